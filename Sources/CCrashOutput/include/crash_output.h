#ifndef CRASH_OUTPUT_H
#define CRASH_OUTPUT_H

/// Replaces the handlers of the signals a crash raises (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE,
/// SIGABRT) with one that writes a single line naming the program and the signal, and ends the
/// process with status 128 + the signal: no registers, no stack, no memory contents, which may
/// hold patient data, reach the terminal or a log. `program` must stay valid for the process's life.
void crash_output_install(const char *program);

#endif
