#ifndef CLMDB_GUARD_H
#define CLMDB_GUARD_H
#include <lmdb.h>
#include "clmdb_audit.h"

/*
 * A fault guard around LMDB's calls. LMDB trusts the pages it reads: a damaged node can make it
 * follow a pointer into nothing (SIGSEGV) or past the end of a truncated file (SIGBUS). Around
 * each guarded call a jump buffer is set; the fault handler jumps back to it, and the call
 * returns CLMDB_FAULT instead of ending the process. Only LMDB's C frames are left by the jump,
 * and the caller then aborts the transaction. A fault outside a guarded call goes to the handler
 * that was installed before (the runtime's crash report), or ends the process as it would have.
 */

/* What a guarded call returns when it caught a fault (outside LMDB's range of codes). */
#define CLMDB_FAULT (-31004)
/* What a guarded call returns when one of LMDB's assertions failed inside it (damage LMDB's
 * code did not expect); clmdb_last_assertion() then holds LMDB's text of it, on this thread. */
#define CLMDB_ASSERTION (-31005)
#define CLMDB_ASSERTION_TEXT 400

/* Installs the fault handler, once per process. */
void clmdb_install_fault_guard(void);

/* Installs the assertion handler on `env` (before mdb_env_open). */
int clmdb_env_set_assert(MDB_env *env);
const char *clmdb_last_assertion(void);

/* The map of a data file read in place. A SIGBUS inside a registered map outside any guarded
 * call (the file shrank under a reader) replaces the faulting page with zeros and is counted
 * for that map's slot (which clmdb_register_map returns, or -1 when no slot is free); readers
 * compare the count before and after their work and refuse what they read meanwhile. */
int clmdb_register_map(void *start, size_t length);
void clmdb_unregister_map(void *start);
unsigned long clmdb_map_faults(int slot);
/* For a command-line tool: such a read ends the process instead, with `message` (one line, its
 * own newline) on standard error and status 1. Reading on over zeros is safe only for readers
 * that check every byte they read; LMDB's cursors walking a page of zeros are not. */
void clmdb_exit_when_file_shrinks(const char *message);
/* How many guarded calls of this thread were left by a jump: a write transaction left that way
 * is in a state mdb_txn_abort cannot be trusted to free, and is abandoned instead (its writer
 * mutex stays held until the process ends). */
unsigned long clmdb_guard_jumps(void);

/* The oldest transaction id a read transaction of any process sees, UINT64_MAX when none is
 * open: a page freed by transaction F may be overwritten only when F < that (LMDB's own rule for
 * reusing a page), since an older snapshot may still read it. */
uint64_t clmdb_oldest_reader(MDB_env *env);

/* libc's memmem (a GNU extension Swift does not see without _GNU_SOURCE). */
const void *clmdb_memmem(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length);

int clmdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data);
int clmdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags);
int clmdb_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data);
int clmdb_cursor_get(MDB_cursor *cursor, MDB_val *key, MDB_val *data, MDB_cursor_op op);
int clmdb_dbi_open(MDB_txn *txn, const char *name, unsigned int flags, MDB_dbi *dbi);
int clmdb_txn_commit(MDB_txn *txn);
int clmdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode);
int clmdb_stat(MDB_txn *txn, MDB_dbi dbi, MDB_stat *stat);
int clmdb_env_copy2(MDB_env *env, const char *path, unsigned int flags);

#endif
