#include "crash_output.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>

static const char *crash_program = "the program";

static void write_text(const char *text) {
    size_t length = strlen(text);
    while (length > 0) {
        ssize_t written = write(STDERR_FILENO, text, length);
        if (written <= 0) return;
        text += written;
        length -= (size_t)written;
    }
}

static void crash_handler(int signo) {
    // Only async-signal-safe calls: write and _exit.
    char number[4] = {0};
    int value = signo, position = 0;
    char digits[4];
    do { digits[position++] = (char)('0' + value % 10); value /= 10; } while (value > 0 && position < 3);
    for (int index = 0; index < position; index++) number[index] = digits[position - 1 - index];
    write_text(crash_program);
    write_text(" stopped on an internal error (signal ");
    write_text(number);
    write_text("); nothing of memory is printed. The store is left as its last commit. "
               "Run with PATIENT_RECORDS_CRASH_DETAILS=1 for a backtrace to report.\n");
    _exit(128 + signo);
}

void crash_output_install(const char *program) {
    crash_program = program;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = crash_handler;
    action.sa_flags = SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT};
    for (unsigned index = 0; index < sizeof signals / sizeof signals[0]; index++) sigaction(signals[index], &action, NULL);
}
