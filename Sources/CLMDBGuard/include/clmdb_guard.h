#ifndef CLMDB_GUARD_H
#define CLMDB_GUARD_H
#include <lmdb.h>

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

/* Installs the fault handler, once per process. */
void clmdb_install_fault_guard(void);

int clmdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data);
int clmdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags);
int clmdb_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data);
int clmdb_cursor_get(MDB_cursor *cursor, MDB_val *key, MDB_val *data, MDB_cursor_op op);
int clmdb_dbi_open(MDB_txn *txn, const char *name, unsigned int flags, MDB_dbi *dbi);
int clmdb_txn_commit(MDB_txn *txn);
int clmdb_stat(MDB_txn *txn, MDB_dbi dbi, MDB_stat *stat);
int clmdb_env_copy2(MDB_env *env, const char *path, unsigned int flags);

#endif
