#ifndef CLMDB_AUDIT_H
#define CLMDB_AUDIT_H
#include <stddef.h>
#include <stdint.h>

/*
 * An auditor of an LMDB 0.9 data file (data.mdb, 64-bit layout). It reads the file with pread()
 * only, never maps it and never calls LMDB, and treats every byte as hostile: a damaged or
 * truncated file yields a sentence saying what is damaged, never a fault, a hang or a read outside
 * a buffer.
 */

#define CLMDB_AUDIT_OK 0        /* the structure is sound */
#define CLMDB_AUDIT_DAMAGED 1   /* damage found: message says what and where */
#define CLMDB_AUDIT_IO 2        /* the file could not be read (errno in io_errno) */

typedef struct {
    uint64_t txnid;           /* transaction id of the meta page used */
    uint64_t last_page;       /* its mm_last_pg */
    uint64_t page_size;
    uint64_t live_pages;      /* pages reachable from the trees (branch+leaf+overflow, all dbs), full audit only */
    uint64_t free_pages;      /* page numbers listed in the free DB's values */
    uint64_t damaged_page;    /* the page where damage was found, or UINT64_MAX */
    int io_errno;
    char message[400];        /* one sentence, ASCII, ending with '.', no newline; empty when OK */
} clmdb_audit_report;

/* Checks both meta pages and picks the current one. mode 0: meta pages only.
 * mode 1 ("before a write"): also walks the free DB tree and the main DB tree completely
 * (both are small) and checks their structure and the meta's statistics of them.
 * mode 2 ("verify"): everything: walks every named database reachable from the main DB,
 * every overflow run, and the free list, and checks that every page number from 2 to
 * last_page is owned exactly once (live in exactly one tree, or listed free exactly once).
 * expected_txnid: 0 = use the newer meta; otherwise use the meta page whose txnid equals it
 * (a reader's snapshot) and fail with DAMAGED if neither has it. */
int clmdb_audit(int fd, int mode, uint64_t expected_txnid, clmdb_audit_report *out);

#endif
