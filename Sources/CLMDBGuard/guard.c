#include "clmdb_guard.h"
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>

static __thread sigjmp_buf *guard_jump;
static struct sigaction previous_segv, previous_bus;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

static void fault_handler(int signo, siginfo_t *info, void *context) {
    sigjmp_buf *jump = guard_jump;
    if (jump != NULL) {
        guard_jump = NULL;
        siglongjmp(*jump, 1);
    }
    struct sigaction *previous = signo == SIGBUS ? &previous_bus : &previous_segv;
    if ((previous->sa_flags & SA_SIGINFO) && previous->sa_sigaction != NULL) {
        previous->sa_sigaction(signo, info, context);
        return;
    }
    if (!(previous->sa_flags & SA_SIGINFO) && previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN) {
        previous->sa_handler(signo);
        return;
    }
    signal(signo, SIG_DFL);
    raise(signo);
}

static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = fault_handler;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
    sigaction(SIGBUS, &action, &previous_bus);
}

void clmdb_install_fault_guard(void) {
    pthread_once(&guard_once, install);
}

/* The signal mask is not saved (sigsetjmp's second argument 0): saving it costs a system call
 * on every guarded call, and there is nothing to restore, since the handler runs with
 * SA_NODEFER and an empty sa_mask, so jumping out of it leaves the mask as it was. */
#define GUARDED(call) \
    sigjmp_buf jump; \
    sigjmp_buf *volatile saved = guard_jump; \
    if (sigsetjmp(jump, 0) != 0) { guard_jump = saved; return CLMDB_FAULT; } \
    guard_jump = &jump; \
    int rc = (call); \
    guard_jump = saved; \
    return rc;

int clmdb_get(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data) { GUARDED(mdb_get(txn, dbi, key, data)) }
int clmdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags) { GUARDED(mdb_put(txn, dbi, key, data, flags)) }
int clmdb_del(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data) { GUARDED(mdb_del(txn, dbi, key, data)) }
int clmdb_cursor_get(MDB_cursor *cursor, MDB_val *key, MDB_val *data, MDB_cursor_op op) { GUARDED(mdb_cursor_get(cursor, key, data, op)) }
int clmdb_dbi_open(MDB_txn *txn, const char *name, unsigned int flags, MDB_dbi *dbi) { GUARDED(mdb_dbi_open(txn, name, flags, dbi)) }
int clmdb_txn_commit(MDB_txn *txn) { GUARDED(mdb_txn_commit(txn)) }
int clmdb_stat(MDB_txn *txn, MDB_dbi dbi, MDB_stat *stat) { GUARDED(mdb_stat(txn, dbi, stat)) }
int clmdb_env_copy2(MDB_env *env, const char *path, unsigned int flags) { GUARDED(mdb_env_copy2(env, path, flags)) }
