#define _GNU_SOURCE
#include "clmdb_guard.h"
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static __thread sigjmp_buf *guard_jump;
static __thread char assertion_text[CLMDB_ASSERTION_TEXT];
static struct sigaction previous_segv, previous_bus;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;

/* The memory maps of data files this process reads in place (a slot per open environment). */
#define MAX_MAPS 1024
static _Atomic uintptr_t map_start[MAX_MAPS];
static _Atomic uintptr_t map_end[MAX_MAPS];
static _Atomic unsigned long map_faults[MAX_MAPS];
/* Guarded calls of this thread left by a jump (a fault or a failed assertion). */
static __thread unsigned long guard_jumps;
/* When set (by a command-line tool), a read past the end of a shrunk data file outside LMDB's
 * calls writes this sentence to standard error and ends the process with status 1. */
static const char *volatile shrink_exit_message;
static volatile size_t shrink_exit_length;

static int registered_map(uintptr_t address) {
    for (int i = 0; i < MAX_MAPS; i++) {
        uintptr_t start = atomic_load_explicit(&map_start[i], memory_order_acquire);
        uintptr_t end = atomic_load_explicit(&map_end[i], memory_order_acquire);
        if (start != 0 && address >= start && address < end) return i;
    }
    return -1;
}

static void fault_handler(int signo, siginfo_t *info, void *context) {
    sigjmp_buf *jump = guard_jump;
    if (jump != NULL) {
        guard_jump = NULL;
        siglongjmp(*jump, 1);
    }
    /* A read in place (a replay or an audit walking values LMDB handed out) past the end of a
     * data file that shrank under it: the page that faulted is replaced by a page of zeros, the
     * read goes on, and the fault is counted; the read transaction then refuses its result. */
    int slot = (signo == SIGBUS && info != NULL) ? registered_map((uintptr_t)info->si_addr) : -1;
    if (slot >= 0 && shrink_exit_message != NULL) {
        ssize_t ignored = write(2, shrink_exit_message, shrink_exit_length);
        (void)ignored;
        _exit(1);
    }
    if (slot >= 0) {
        long size = sysconf(_SC_PAGESIZE);
        uintptr_t page = (uintptr_t)info->si_addr & ~((uintptr_t)size - 1);
        void *mapped = mmap((void *)page, (size_t)size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        if (mapped != MAP_FAILED) {
            atomic_fetch_add_explicit(&map_faults[slot], 1, memory_order_release);
            return;
        }
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

/* LMDB calls this before abort() when one of its assertions fails (a page of the wrong type
 * where its code expects another: damage it did not check for). Inside a guarded call the
 * assertion becomes that call's error; outside one it returns, and LMDB aborts as before. */
static void assertion_handler(MDB_env *env, const char *message) {
    (void)env;
    sigjmp_buf *jump = guard_jump;
    if (jump == NULL) return;
    strncpy(assertion_text, message ? message : "", CLMDB_ASSERTION_TEXT - 1);
    assertion_text[CLMDB_ASSERTION_TEXT - 1] = 0;
    guard_jump = NULL;
    siglongjmp(*jump, 2);
}

int clmdb_env_set_assert(MDB_env *env) {
    return mdb_env_set_assert(env, assertion_handler);
}

const char *clmdb_last_assertion(void) { return assertion_text; }

int clmdb_register_map(void *start, size_t length) {
    uintptr_t first = (uintptr_t)start, end = first + length;
    if (first == 0 || end < first) return -1;
    for (int i = 0; i < MAX_MAPS; i++) {
        if (atomic_load(&map_start[i]) == first) { atomic_store(&map_end[i], end); return i; }
    }
    for (int i = 0; i < MAX_MAPS; i++) {
        uintptr_t expected = 0;
        if (atomic_compare_exchange_strong(&map_start[i], &expected, first)) {
            atomic_store(&map_faults[i], 0);
            atomic_store(&map_end[i], end);
            return i;
        }
    }
    return -1;
}

void clmdb_unregister_map(void *start) {
    for (int i = 0; i < MAX_MAPS; i++) {
        uintptr_t expected = (uintptr_t)start;
        if (expected != 0 && atomic_compare_exchange_strong(&map_start[i], &expected, 0)) atomic_store(&map_end[i], 0);
    }
}

unsigned long clmdb_map_faults(int slot) {
    if (slot < 0 || slot >= MAX_MAPS) return 0;
    return atomic_load_explicit(&map_faults[slot], memory_order_acquire);
}

/* The signal mask is not saved (sigsetjmp's second argument 0): saving it costs a system call
 * on every guarded call, and there is nothing to restore, since the handler runs with
 * SA_NODEFER and an empty sa_mask, so jumping out of it leaves the mask as it was. */
#define GUARDED(call) \
    sigjmp_buf jump; \
    sigjmp_buf *volatile saved = guard_jump; \
    switch (sigsetjmp(jump, 0)) { \
    case 0: break; \
    case 2: guard_jump = saved; guard_jumps++; return CLMDB_ASSERTION; \
    default: guard_jump = saved; guard_jumps++; return CLMDB_FAULT; \
    } \
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
int clmdb_env_open(MDB_env *env, const char *path, unsigned int flags, mdb_mode_t mode) { GUARDED(mdb_env_open(env, path, flags, mode)) }
int clmdb_stat(MDB_txn *txn, MDB_dbi dbi, MDB_stat *stat) { GUARDED(mdb_stat(txn, dbi, stat)) }
int clmdb_env_copy2(MDB_env *env, const char *path, unsigned int flags) { GUARDED(mdb_env_copy2(env, path, flags)) }

/* The oldest snapshot a reader of any process holds, from LMDB's reader table (the lines
 * mdb_reader_list writes: pid, thread, then the transaction id or "-" for an idle slot). */
static int oldest_reader_line(const char *line, void *context) {
    uint64_t *oldest = context;
    int pid = 0;
    unsigned long long thread = 0;
    char txnid[32] = {0};
    if (sscanf(line, "%d %llx %31s", &pid, &thread, txnid) == 3 && pid != 0 && txnid[0] >= '0' && txnid[0] <= '9') {
        unsigned long long value = strtoull(txnid, NULL, 10);
        if (value < *oldest) *oldest = value;
    }
    return 0;
}

uint64_t clmdb_oldest_reader(MDB_env *env) {
    uint64_t oldest = UINT64_MAX;
    mdb_reader_list(env, oldest_reader_line, &oldest);
    return oldest;
}

const void *clmdb_memmem(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length) {
    return memmem(haystack, haystack_length, needle, needle_length);
}

void clmdb_exit_when_file_shrinks(const char *message) {
    size_t length = strlen(message);
    char *copy = malloc(length + 1);
    if (copy == NULL) return;
    memcpy(copy, message, length + 1);
    shrink_exit_length = length;
    shrink_exit_message = copy;
}

unsigned long clmdb_guard_jumps(void) { return guard_jumps; }
