/*
 * An auditor of an LMDB 0.9.24 data file (64-bit layout), reading it with pread() only.
 *
 * Every field read from the file is hostile: sizes and offsets are checked before use, arithmetic
 * on them is overflow-checked, the tree walk is bounded by the meta page's depth (at most 32, the
 * depth of LMDB's cursor stack), and every page reached is marked in an ownership map so that a
 * page reached twice (a cycle, or a page shared by two trees) is reported instead of walked again.
 *
 * Facts of the format this relies on, checked against mdb.c of LMDB 0.9.24:
 * - Meta page N holds the transaction ids with N's parity (mdb_env_write_meta writes txnid & 1);
 *   a new environment has txnid 0 in both; a compacting copy has 0 in page 0 and 1 (or 0 when
 *   the copy is empty) in page 1.
 * - The free DB's flags are (the creating environment's flags & 0xffff) | MDB_INTEGERKEY, so
 *   MDB_INTEGERKEY with at most MDB_FIXEDMAP and MDB_NOSUBDIR; the main DB of a plain
 *   environment has flags 0 and md_pad 0.
 * - mm_last_pg may lie beyond the end of the file: pages allocated and freed by the same
 *   transaction ("loose" pages) are listed free but never written. Only free pages may be missing.
 * - The nodes of a page tile the area from mp_upper to the end of the page exactly, each taking
 *   EVEN(NODESIZE + key + data) bytes (mdb_node_add, mdb_node_del and mdb_update_key keep it so).
 * - A free-list value is an IDL: a count n, then n page numbers in descending order; a record
 *   reserved by mdb_freelist_save may be longer than (n + 1) words.
 * - An overflow run may be longer than its value needs (a value overwritten in place by a smaller
 *   one keeps its run), so only "long enough" is checked.
 */
#if !defined(_GNU_SOURCE) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700
#endif
#include "clmdb_audit.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define PAGEHDRSZ 16u
#define NODESIZE 8u
#define META_END 152u            /* page header + MDB_meta */
#define NUM_METAS 2u

#define P_BRANCH 0x01u
#define P_LEAF 0x02u
#define P_OVERFLOW 0x04u
#define P_META 0x08u

#define F_BIGDATA 0x01u
#define F_SUBDATA 0x02u

#define MDB_FIXEDMAP 0x01u
#define MDB_NOSUBDIR 0x4000u
#define MDB_INTEGERKEY 0x08u

#define MDB_MAGIC 0xBEEFC0DEu
#define MDB_DATA_VERSION 1u
#define P_INVALID UINT64_MAX
#define MAX_DEPTH 32u            /* CURSOR_STACK */
#define MAX_KEYSIZE 511u         /* MDB_MAXKEYSIZE */
#define MIN_PAGESIZE 512u
#define MAX_PAGESIZE 32768u      /* 0x8000: mp_upper, a uint16, cannot hold a 64 KiB page's end */
#define MAX_MAPSIZE (1ull << 46)
#define MAX_PAGES (1ull << 34)
#define DB_SIZE 48u
#define CHUNK 65536u

/* Offsets in a meta page. */
#define M_MAGIC 16
#define M_VERSION 20
#define M_ADDRESS 24
#define M_MAPSIZE 32
#define M_FREE 40
#define M_MAIN 88
#define M_LAST 136
#define M_TXNID 144

/* Owners of a page in the ownership map (2 bits a page). */
enum { O_NONE = 0, O_LISTED = 1, O_FREETREE = 2, O_TREE = 3 };
enum { K_FREE, K_MAIN, K_NAMED };

typedef struct {
    uint32_t pad;
    uint16_t flags, depth;
    uint64_t branch, leaf, overflow, entries, root;
} dbrec;

typedef struct {
    uint64_t pgno;
    uint16_t pflags, ppad, plower, pupper;
    uint32_t magic, version;
    uint64_t address, mapsize, last, txnid;
    dbrec dbs[2];
} metarec;

typedef struct {
    char what[120];    /* "database \"x\"" */
    dbrec db;
    uint64_t ref;      /* the main DB's leaf holding the record */
} named_db;

typedef struct {
    const char *what;
    int kind;
    unsigned depth;
    uint64_t branch, leaf, overflow, entries;
} walker;

typedef struct {
    const uint8_t *p;
    size_t len;
    int set;
} kbound;

typedef struct {
    int fd;
    int mode;
    uint64_t fsize, file_pages;
    uint32_t psize;
    uint32_t nodemax;
    uint64_t last, txnid;
    uint8_t *owner;
    uint8_t *bufs;
    uint8_t *chunk;
    uint16_t *tile;
    named_db *named;
    size_t nnamed, capnamed;
    uint64_t live, listed, listed_beyond;
    clmdb_audit_report *out;
    int rc;
} auditor;

/* ---------------------------------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, sizeof v); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, sizeof v); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, sizeof v); return v; }
typedef unsigned long long ull;

static int damage(auditor *a, uint64_t page, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int damage(auditor *a, uint64_t page, const char *fmt, ...) {
    char *m = a->out->message;
    size_t cap = sizeof a->out->message;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m, cap, fmt, ap);
    va_end(ap);
    if (n < 0) { m[0] = '\0'; n = 0; }
    size_t len = strnlen(m, cap - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)m[i];
        if (c < 0x20 || c > 0x7e) m[i] = '?';
    }
    if (len == 0) { snprintf(m, cap, "the data file is damaged."); len = strlen(m); }
    if (m[len - 1] != '.') {
        if (len + 1 < cap) { m[len] = '.'; m[len + 1] = '\0'; }
        else m[cap - 2] = '.';
    }
    a->out->damaged_page = page;
    a->rc = CLMDB_AUDIT_DAMAGED;
    return -1;
}

static int io_error(auditor *a, int err) {
    a->out->io_errno = err ? err : EIO;
    snprintf(a->out->message, sizeof a->out->message, "the data file could not be read (%s).",
             err == ENOMEM ? "out of memory" : "input/output error");
    a->rc = CLMDB_AUDIT_IO;
    return -1;
}

/* Reads len bytes at off; a short read is damage (the page lies beyond the end of the file). */
static int read_at(auditor *a, void *buf, size_t len, uint64_t off, uint64_t pgno) {
    size_t done = 0;
    if (off > (uint64_t)INT64_MAX - len)
        return damage(a, pgno, "page %llu lies beyond any possible file offset.", (ull)pgno);
    while (done < len) {
        ssize_t r = pread(a->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return io_error(a, errno);
        }
        if (r == 0)
            return damage(a, pgno, "page %llu lies beyond the end of the file (%llu bytes) although it is in use.",
                          (ull)pgno, (ull)a->fsize);
        done += (size_t)r;
    }
    return 0;
}

static unsigned owner_get(const auditor *a, uint64_t p) {
    return (a->owner[p >> 2] >> ((p & 3) * 2)) & 3u;
}

static void owner_set(auditor *a, uint64_t p, unsigned v) {
    unsigned shift = (unsigned)(p & 3) * 2;
    a->owner[p >> 2] = (uint8_t)((a->owner[p >> 2] & ~(3u << shift)) | (v << shift));
}

/* A name from the file, as printable ASCII. */
static void describe_name(char *dst, size_t cap, const uint8_t *name, size_t len) {
    size_t j = 0, limit = 48;
    for (size_t i = 0; i < len && j + 4 < cap; i++) {
        if (i == limit) { dst[j++] = '.'; dst[j++] = '.'; dst[j++] = '.'; break; }
        unsigned char c = name[i];
        dst[j++] = (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\') ? (char)c : '?';
    }
    dst[j] = '\0';
}

static int keycmp(int intkey, const uint8_t *x, size_t xl, const uint8_t *y, size_t yl) {
    if (intkey) {
        uint64_t u = rd64(x), v = rd64(y);
        return u < v ? -1 : u > v;
    }
    size_t m = xl < yl ? xl : yl;
    int c = m ? memcmp(x, y, m) : 0;
    if (c) return c;
    return xl < yl ? -1 : xl > yl;
}

static void parse_db(const uint8_t *p, dbrec *d) {
    d->pad = rd32(p);
    d->flags = rd16(p + 4);
    d->depth = rd16(p + 6);
    d->branch = rd64(p + 8);
    d->leaf = rd64(p + 16);
    d->overflow = rd64(p + 24);
    d->entries = rd64(p + 32);
    d->root = rd64(p + 40);
}

/* The statistics of one database record (in a meta page or the main DB). `who` names it, as in
 * "meta page 0: the free list" or "database \"events\" (recorded on page 12)". */
static int check_dbrec(auditor *a, uint64_t page, const char *who, const dbrec *d, uint64_t last, uint32_t psize) {
    if (d->root == P_INVALID) {
        if (d->depth || d->branch || d->leaf || d->overflow || d->entries)
            return damage(a, page, "%s is empty (no root page) but records depth %u, %llu branch, %llu leaf and %llu overflow pages and %llu entries.",
                          who, d->depth, (ull)d->branch, (ull)d->leaf, (ull)d->overflow, (ull)d->entries);
        return 0;
    }
    if (d->root < NUM_METAS || d->root > last)
        return damage(a, page, "%s has its root at page %llu, outside the pages in use (2 to %llu).", who, (ull)d->root, (ull)last);
    if (d->depth < 1 || d->depth > MAX_DEPTH)
        return damage(a, page, "%s records a tree depth of %u (LMDB allows 1 to %u).", who, d->depth, MAX_DEPTH);
    uint64_t pages = 0;
    if (__builtin_add_overflow(d->branch, d->leaf, &pages) || __builtin_add_overflow(pages, d->overflow, &pages) ||
        pages > last - 1)
        return damage(a, page, "%s records %llu branch, %llu leaf and %llu overflow pages, more than the %llu pages in use.",
                      who, (ull)d->branch, (ull)d->leaf, (ull)d->overflow, (ull)(last - 1));
    if (d->leaf < 1 || d->branch < (uint64_t)d->depth - 1 || (d->depth == 1 && d->branch != 0))
        return damage(a, page, "%s records %llu branch and %llu leaf pages, impossible for a tree of depth %u.",
                      who, (ull)d->branch, (ull)d->leaf, d->depth);
    uint64_t most = 0;
    if (d->entries < d->leaf ||
        (!__builtin_mul_overflow(d->leaf, (uint64_t)((psize - PAGEHDRSZ) / 10), &most) && d->entries > most))
        return damage(a, page, "%s records %llu entries, impossible in %llu leaf pages.", who, (ull)d->entries, (ull)d->leaf);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Meta pages */

static void parse_meta(const uint8_t *b, metarec *m) {
    m->pgno = rd64(b);
    m->ppad = rd16(b + 8);
    m->pflags = rd16(b + 10);
    m->plower = rd16(b + 12);
    m->pupper = rd16(b + 14);
    m->magic = rd32(b + M_MAGIC);
    m->version = rd32(b + M_VERSION);
    m->address = rd64(b + M_ADDRESS);
    m->mapsize = rd64(b + M_MAPSIZE);
    parse_db(b + M_FREE, &m->dbs[0]);
    parse_db(b + M_MAIN, &m->dbs[1]);
    m->last = rd64(b + M_LAST);
    m->txnid = rd64(b + M_TXNID);
}

static int is_pow2(uint32_t v) { return v && !(v & (v - 1)); }

/* The fields of a meta page that do not depend on the page size. */
static int check_meta_header(auditor *a, int n, const metarec *m) {
    if (m->pgno != (uint64_t)n)
        return damage(a, (uint64_t)n, "meta page %d: its page number field holds %llu instead of %d.", n, (ull)m->pgno, n);
    if (m->pflags != P_META)
        return damage(a, (uint64_t)n, "meta page %d: its page flags are 0x%x instead of 0x8 (a meta page).", n, m->pflags);
    if (m->ppad || m->plower || m->pupper)
        return damage(a, (uint64_t)n, "meta page %d: its page header holds %u, %u and %u where LMDB writes zeros.", n, m->ppad, m->plower, m->pupper);
    if (m->magic != MDB_MAGIC)
        return damage(a, (uint64_t)n, "meta page %d: the magic number is 0x%08x instead of 0xBEEFC0DE.", n, m->magic);
    if (m->version != MDB_DATA_VERSION)
        return damage(a, (uint64_t)n, "meta page %d: the format version is %u instead of 1.", n, m->version);
    return 0;
}

/* The other checks of one meta page on its own. */
static int check_meta(auditor *a, int n, const metarec *m, uint32_t psize) {
    char who[64];
    uint16_t ff = m->dbs[0].flags;
    if (!(ff & MDB_INTEGERKEY) || (ff & ~(MDB_INTEGERKEY | MDB_FIXEDMAP | MDB_NOSUBDIR)))
        return damage(a, (uint64_t)n, "meta page %d: the free list's flags are 0x%x, not MDB_INTEGERKEY (0x8) with at most the environment flags LMDB keeps there.", n, ff);
    if (m->address != 0 && !(ff & MDB_FIXEDMAP))
        return damage(a, (uint64_t)n, "meta page %d: the fixed-map address field holds 0x%llx although the environment does not use a fixed map.", n, (ull)m->address);
    if (m->dbs[1].flags != 0)
        return damage(a, (uint64_t)n, "meta page %d: the main database's flags are 0x%x instead of 0 (a plain database).", n, m->dbs[1].flags);
    if (m->dbs[1].pad != 0)
        return damage(a, (uint64_t)n, "meta page %d: the main database's padding field holds %u instead of 0.", n, m->dbs[1].pad);
    if (m->last < 1 || m->last >= MAX_PAGES)
        return damage(a, (uint64_t)n, "meta page %d: the last page number %llu is impossible.", n, (ull)m->last);
    uint64_t need = 0;
    if (__builtin_mul_overflow(m->last + 1, (uint64_t)psize, &need))
        return damage(a, (uint64_t)n, "meta page %d: the last page number %llu lies beyond the end of the file (%llu bytes).", n, (ull)m->last, (ull)a->fsize);
    /* LMDB leaves the file short of last_pg by the pages a transaction allocated and freed again
     * (listed free, never written); the full audit checks that those are free. Beyond that, the
     * file holding fewer than half of the pages is damage. */
    uint64_t beyond = m->last + 1 > a->file_pages ? m->last + 1 - a->file_pages : 0;
    if (beyond > a->file_pages)
        return damage(a, (uint64_t)n, "meta page %d: the last page number %llu lies beyond the end of the file (%llu bytes).", n, (ull)m->last, (ull)a->fsize);
    if (m->mapsize < need)
        return damage(a, (uint64_t)n, "meta page %d: the map size %llu is smaller than the %llu bytes of its pages.", n, (ull)m->mapsize, (ull)need);
    if (m->mapsize >= MAX_MAPSIZE)
        return damage(a, (uint64_t)n, "meta page %d: the map size %llu is impossibly large (64 TiB or more).", n, (ull)m->mapsize);
    if ((m->txnid & 1) != (uint64_t)n && !(n == 1 && m->txnid == 0))
        return damage(a, (uint64_t)n, "meta page %d: it holds transaction %llu, but LMDB writes %s transaction ids to meta page %d.",
                      n, (ull)m->txnid, n ? "odd" : "even", n);
    snprintf(who, sizeof who, "meta page %d: the free list", n);
    if (check_dbrec(a, (uint64_t)n, who, &m->dbs[0], m->last, psize)) return -1;
    snprintf(who, sizeof who, "meta page %d: the main database", n);
    if (check_dbrec(a, (uint64_t)n, who, &m->dbs[1], m->last, psize)) return -1;
    if (m->dbs[0].root != P_INVALID && m->dbs[0].root == m->dbs[1].root)
        return damage(a, (uint64_t)n, "meta page %d: the free list and the main database have the same root page %llu.", n, (ull)m->dbs[0].root);
    uint64_t pages = m->dbs[0].branch + m->dbs[0].leaf + m->dbs[0].overflow; /* each checked <= last - 1 */
    uint64_t more = m->dbs[1].branch + m->dbs[1].leaf + m->dbs[1].overflow;
    if (pages + more > m->last - 1)
        return damage(a, (uint64_t)n, "meta page %d: the free list and the main database record %llu pages together, more than the %llu pages in use.",
                      n, (ull)(pages + more), (ull)(m->last - 1));
    for (int i = 0; i < 2; i++) {
        uint64_t root = m->dbs[i].root;
        if (root != P_INVALID && root >= a->file_pages)
            return damage(a, (uint64_t)n, "meta page %d: the %s's root page %llu lies beyond the end of the file (%llu bytes).",
                          n, i ? "main database" : "free list", (ull)root, (ull)a->fsize);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Tree walk */

static const char *owner_name(unsigned o) {
    return o == O_FREETREE ? "the free list's tree" : o == O_LISTED ? "the free list (as a free page)" : "a database";
}

static const char *page_kind(uint16_t flags) {
    switch (flags) {
    case P_LEAF: return "a leaf";
    case P_BRANCH: return "a branch page";
    case P_OVERFLOW: return "an overflow page";
    default: return "a page";
    }
}

/* Marks a page of a tree; a page already owned is damage. */
static int claim(auditor *a, const walker *w, uint64_t pgno, unsigned level, uint16_t flags) {
    unsigned o = owner_get(a, pgno);
    if (o == O_NONE) {
        owner_set(a, pgno, w->kind == K_FREE ? O_FREETREE : O_TREE);
        a->live++;
        return 0;
    }
    if (o == O_LISTED)
        return damage(a, pgno, "page %llu is listed as free and is also used by %s.", (ull)pgno, w->what);
    if (w->kind == K_FREE && o == O_TREE) {
        if (level == 0)
            return damage(a, pgno, "the free list's root page %llu is %s of another database (its entries are not free-list entries).",
                          (ull)pgno, page_kind(flags));
        return damage(a, pgno, "page %llu of the free list is also %s of another database.", (ull)pgno, page_kind(flags));
    }
    if (o == O_FREETREE)
        return damage(a, pgno, "page %llu of %s is also a page of the free list's tree.", (ull)pgno, w->what);
    return damage(a, pgno, "page %llu of %s is reached a second time (it is shared with another tree, or the tree has a cycle).",
                  (ull)pgno, w->what);
}

/* Marks one page listed in the free list. */
static int list_free(auditor *a, uint64_t id, uint64_t leafpg, uint64_t key) {
    if (id < NUM_METAS || id > a->last)
        return damage(a, leafpg, "the free-list entry of transaction %llu (on page %llu) lists page %llu, outside the pages in use (2 to %llu).",
                      (ull)key, (ull)leafpg, (ull)id, (ull)a->last);
    unsigned o = owner_get(a, id);
    if (o == O_LISTED)
        return damage(a, id, "page %llu is listed as free twice.", (ull)id);
    if (o != O_NONE)
        return damage(a, id, "page %llu is listed as free and is also used by %s.", (ull)id, owner_name(o));
    owner_set(a, id, O_LISTED);
    a->listed++;
    if (id >= a->file_pages) a->listed_beyond++;
    return 0;
}

/* The IDL of one free-list record, from the leaf (inline) or from its overflow run. */
static int check_idl(auditor *a, uint64_t leafpg, uint64_t key, const uint8_t *inl, uint64_t ovoff, uint64_t dsize) {
    if (dsize < 8 || dsize % 8)
        return damage(a, leafpg, "the free-list entry of transaction %llu (on page %llu) is %llu bytes long, not a list of 8-byte page numbers.",
                      (ull)key, (ull)leafpg, (ull)dsize);
    uint64_t words = dsize / 8, n, prev = UINT64_MAX;
    uint8_t first[8];
    if (inl) memcpy(first, inl, 8);
    else if (read_at(a, first, 8, ovoff, leafpg)) return -1;
    n = rd64(first);
    if (n > words - 1)
        return damage(a, leafpg, "the free-list entry of transaction %llu (on page %llu) claims %llu pages but has room for %llu.",
                      (ull)key, (ull)leafpg, (ull)n, (ull)(words - 1));
    uint64_t i = 0;
    while (i < n) {
        const uint8_t *p;
        size_t take;
        if (inl) {
            p = inl + 8 + i * 8;
            take = (size_t)(n - i);
        } else {
            uint64_t left = n - i;
            take = left > CHUNK / 8 ? CHUNK / 8 : (size_t)left;
            if (read_at(a, a->chunk, take * 8, ovoff + 8 + i * 8, leafpg)) return -1;
            p = a->chunk;
        }
        for (size_t j = 0; j < take; j++) {
            uint64_t id = rd64(p + j * 8);
            if (id >= prev)
                return damage(a, leafpg, "the free-list entry of transaction %llu (on page %llu) is not in descending order (page %llu follows page %llu).",
                              (ull)key, (ull)leafpg, (ull)id, (ull)prev);
            if (list_free(a, id, leafpg, key)) return -1;
            prev = id;
        }
        i += take;
    }
    return 0;
}

/* Checks an overflow run and marks its pages; ovoff receives the offset of its data. */
static int check_overflow(auditor *a, walker *w, uint64_t leafpg, unsigned idx, uint64_t ov, uint64_t dsize, uint64_t *ovoff) {
    uint8_t h[PAGEHDRSZ];
    if (ov < NUM_METAS || ov > a->last)
        return damage(a, leafpg, "entry %u of page %llu of %s refers to overflow page %llu, outside the pages in use (2 to %llu).",
                      idx, (ull)leafpg, w->what, (ull)ov, (ull)a->last);
    if (read_at(a, h, sizeof h, ov * a->psize, ov)) return -1;
    uint16_t flags = rd16(h + 10);
    uint32_t count = rd32(h + 12);
    unsigned o = owner_get(a, ov);
    if (o != O_NONE) {
        if (o == O_LISTED)
            return damage(a, ov, "page %llu is listed as free and is also used by %s.", (ull)ov, w->what);
        return damage(a, ov, "overflow page %llu of %s (entry %u of page %llu) is reached a second time (it is also used by %s).",
                      (ull)ov, w->what, idx, (ull)leafpg, owner_name(o));
    }
    if (rd64(h) != ov)
        return damage(a, ov, "overflow page %llu of %s holds the header of page %llu.", (ull)ov, w->what, (ull)rd64(h));
    if (flags != P_OVERFLOW)
        return damage(a, ov, "page %llu of %s should be an overflow page but its flags are 0x%x.", (ull)ov, w->what, flags);
    if (count < 1 || (uint64_t)count - 1 > a->last - ov)
        return damage(a, ov, "overflow page %llu of %s claims a run of %u pages, beyond the last page %llu.", (ull)ov, w->what, count, (ull)a->last);
    if (ov + count > a->file_pages)  /* LMDB writes whole runs; reading past the file would fault */
        return damage(a, ov, "the overflow run of %u pages at page %llu of %s extends beyond the end of the file (%llu bytes).",
                      count, (ull)ov, w->what, (ull)a->fsize);
    if (dsize > (uint64_t)count * a->psize - PAGEHDRSZ)
        return damage(a, ov, "overflow page %llu of %s starts a run of %u pages, too short for its %llu-byte value.",
                      (ull)ov, w->what, count, (ull)dsize);
    for (uint64_t p = ov; p < ov + count; p++) {
        o = owner_get(a, p);
        if (o == O_LISTED)
            return damage(a, p, "page %llu is listed as free and is also used by %s.", (ull)p, w->what);
        if (o != O_NONE)
            return damage(a, p, "page %llu of an overflow run of %s is also used by %s.", (ull)p, w->what, owner_name(o));
        owner_set(a, p, w->kind == K_FREE ? O_FREETREE : O_TREE);
    }
    a->live += count;
    w->overflow += count;
    *ovoff = ov * a->psize + PAGEHDRSZ;
    return 0;
}

static int add_named(auditor *a, const uint8_t *name, size_t nlen, const dbrec *d, uint64_t ref) {
    if (a->nnamed == a->capnamed) {
        size_t cap = a->capnamed ? a->capnamed * 2 : 16;
        named_db *n = realloc(a->named, cap * sizeof *n);
        if (!n) return io_error(a, ENOMEM);
        a->named = n;
        a->capnamed = cap;
    }
    named_db *e = &a->named[a->nnamed++];
    char nm[64];
    describe_name(nm, sizeof nm, name, nlen);
    snprintf(e->what, sizeof e->what, "database \"%s\"", nm);
    e->db = *d;
    e->ref = ref;
    return 0;
}

/* Checks the layout of a page's pointers and nodes: in bounds, tiling the node area exactly. */
static int check_layout(auditor *a, const walker *w, const uint8_t *pg, uint64_t pgno, int leaf, unsigned *nkeys) {
    uint32_t psize = a->psize;
    unsigned lower = rd16(pg + 12), upper = rd16(pg + 14);
    if (lower < PAGEHDRSZ || (lower & 1) || (upper & 1) || lower > upper || upper > psize)
        return damage(a, pgno, "page %llu of %s has an impossible free-space range (lower %u, upper %u).", (ull)pgno, w->what, lower, upper);
    unsigned n = (lower - PAGEHDRSZ) / 2;
    if (n == 0)
        return damage(a, pgno, "page %llu of %s holds no entries.", (ull)pgno, w->what);
    memset(a->tile, 0, (psize / 2) * sizeof *a->tile);
    for (unsigned i = 0; i < n; i++) {
        unsigned off = rd16(pg + PAGEHDRSZ + 2 * i);
        if (off < upper || (off & 1) || off + NODESIZE > psize)
            return damage(a, pgno, "entry %u of page %llu of %s lies outside the page's node area (offset %u).", i, (ull)pgno, w->what, off);
        const uint8_t *node = pg + off;
        uint64_t size = NODESIZE + (uint64_t)rd16(node + 6);
        if (leaf) {
            uint64_t dsize = (uint64_t)rd16(node) | ((uint64_t)rd16(node + 2) << 16);
            size += (rd16(node + 4) & F_BIGDATA) ? 8 : dsize;
        }
        if (off + size > psize)
            return damage(a, pgno, "entry %u of page %llu of %s runs past the end of the page.", i, (ull)pgno, w->what);
        if (a->tile[off / 2])
            return damage(a, pgno, "two entries of page %llu of %s start at the same offset %u.", (ull)pgno, w->what, off);
        a->tile[off / 2] = (uint16_t)((size + 1) & ~(uint64_t)1);
    }
    unsigned pos = upper, seen = 0;
    while (pos < psize) {
        unsigned s = a->tile[pos / 2];
        if (!s)
            return damage(a, pgno, "page %llu of %s has a gap or an overlap among its entries (at offset %u).", (ull)pgno, w->what, pos);
        pos += s;
        seen++;
    }
    if (pos != psize || seen != n)
        return damage(a, pgno, "page %llu of %s has overlapping entries.", (ull)pgno, w->what);
    *nkeys = n;
    return 0;
}

static int walk_page(auditor *a, walker *w, uint64_t pgno, unsigned level, uint64_t ref, kbound lo, kbound hi) {
    uint32_t psize = a->psize;
    int intkey = w->kind == K_FREE;
    if (pgno < NUM_METAS || pgno > a->last)
        return damage(a, ref, "%s refers to page %llu (on page %llu), outside the pages in use (2 to %llu).", w->what, (ull)pgno, (ull)ref, (ull)a->last);
    uint8_t *pg = a->bufs + (size_t)level * psize;
    if (read_at(a, pg, psize, pgno * psize, pgno)) return -1;
    uint16_t flags = rd16(pg + 10);
    if (claim(a, w, pgno, level, flags)) return -1;
    if (rd64(pg) != pgno)
        return damage(a, pgno, "page %llu of %s holds the header of page %llu.", (ull)pgno, w->what, (ull)rd64(pg));
    int leaf = level + 1 == w->depth;
    if (flags != (leaf ? P_LEAF : P_BRANCH)) {
        if (flags == P_LEAF || flags == P_BRANCH)
            return damage(a, pgno, "page %llu of %s is %s at level %u, but the tree is %u levels deep.",
                          (ull)pgno, w->what, page_kind(flags), level + 1, w->depth);
        return damage(a, pgno, "page %llu of %s should be %s but its flags are 0x%x.", (ull)pgno, w->what, leaf ? "a leaf" : "a branch page", flags);
    }
    unsigned n = 0;
    if (check_layout(a, w, pg, pgno, leaf, &n)) return -1;

    /* Keys: sizes and order (within the page and within the parent's bounds). */
    const uint8_t *pk = NULL;
    size_t pkl = 0;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *node = pg + rd16(pg + PAGEHDRSZ + 2 * i);
        size_t ks = rd16(node + 6);
        const uint8_t *k = node + NODESIZE;
        if (!leaf && i == 0) {
            if (ks != 0)
                return damage(a, pgno, "the first entry of branch page %llu of %s has a %zu-byte key instead of none.", (ull)pgno, w->what, ks);
            continue;
        }
        if (ks == 0 || ks > MAX_KEYSIZE || (intkey && ks != 8))
            return damage(a, pgno, "entry %u of page %llu of %s has a key of %zu bytes%s.", i, (ull)pgno, w->what, ks,
                          intkey ? " (free-list keys are 8-byte transaction ids)" : " (LMDB allows 1 to 511)");
        if (pk ? keycmp(intkey, pk, pkl, k, ks) >= 0 : (lo.set && keycmp(intkey, lo.p, lo.len, k, ks) > 0))
            return damage(a, pgno, "the keys of page %llu of %s are out of order (at entry %u).", (ull)pgno, w->what, i);
        pk = k;
        pkl = ks;
    }
    if (pk && hi.set && keycmp(intkey, pk, pkl, hi.p, hi.len) >= 0)
        return damage(a, pgno, "the keys of page %llu of %s are out of order (its last key is not below the next page's first).", (ull)pgno, w->what);

    if (!leaf) {
        w->branch++;
        for (unsigned i = 0; i < n; i++) {
            const uint8_t *node = pg + rd16(pg + PAGEHDRSZ + 2 * i);
            uint64_t child = (uint64_t)rd16(node) | ((uint64_t)rd16(node + 2) << 16) | ((uint64_t)rd16(node + 4) << 32);
            kbound clo = lo, chi = hi;
            if (i > 0) { clo.p = node + NODESIZE; clo.len = rd16(node + 6); clo.set = 1; }
            if (i + 1 < n) {
                const uint8_t *next = pg + rd16(pg + PAGEHDRSZ + 2 * (i + 1));
                chi.p = next + NODESIZE; chi.len = rd16(next + 6); chi.set = 1;
            }
            if (walk_page(a, w, child, level + 1, pgno, clo, chi)) return -1;
        }
        return 0;
    }

    w->leaf++;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *node = pg + rd16(pg + PAGEHDRSZ + 2 * i);
        uint64_t dsize = (uint64_t)rd16(node) | ((uint64_t)rd16(node + 2) << 16);
        unsigned nf = rd16(node + 4);
        size_t ks = rd16(node + 6);
        const uint8_t *key = node + NODESIZE, *data = key + ks;
        unsigned allowed = F_BIGDATA | (w->kind == K_MAIN ? F_SUBDATA : 0);
        if ((nf & ~allowed) || nf == (F_BIGDATA | F_SUBDATA))
            return damage(a, pgno, "entry %u of page %llu of %s has the node flags 0x%x, which %s.", i, (ull)pgno, w->what, nf,
                          (nf & 0x04) ? "mark sorted duplicates, not used here" : "are not valid there");
        /* The main database of this store holds named databases only: any other entry in it
         * means its root or a page of it was swapped for another database's leaf. */
        if (w->kind == K_MAIN && !(nf & F_SUBDATA))
            return damage(a, pgno, "entry %u of page %llu of %s is not the record of a named database, the only kind this store keeps there.",
                          i, (ull)pgno, w->what);
        w->entries++;
        if (!(nf & F_BIGDATA) && NODESIZE + ks + dsize > a->nodemax)
            return damage(a, pgno, "entry %u of page %llu of %s holds a %llu-byte value in the page, more than LMDB keeps out of an overflow run.",
                          i, (ull)pgno, w->what, (ull)dsize);
        uint64_t ovoff = 0;
        if (nf & F_BIGDATA) {
            if (check_overflow(a, w, pgno, i, rd64(data), dsize, &ovoff)) return -1;
        }
        if (w->kind == K_FREE) {
            uint64_t txn = rd64(key);
            if (txn < 1 || txn > a->txnid)
                return damage(a, pgno, "the free list's page %llu holds an entry for transaction %llu, %s.", (ull)pgno, (ull)txn,
                              txn ? "newer than the snapshot's transaction" : "which cannot exist");
            if (check_idl(a, pgno, txn, (nf & F_BIGDATA) ? NULL : data, ovoff, dsize)) return -1;
        } else if (nf & F_SUBDATA) {
            char nm[64], who[160];
            dbrec d;
            describe_name(nm, sizeof nm, key, ks);
            if (dsize != DB_SIZE)
                return damage(a, pgno, "the record of database \"%s\" on page %llu is %llu bytes long instead of 48.", nm, (ull)pgno, (ull)dsize);
            parse_db(data, &d);
            snprintf(who, sizeof who, "database \"%s\" (recorded on page %llu)", nm, (ull)pgno);
            if (d.flags != 0 || d.pad != 0)
                return damage(a, pgno, "%s has flags 0x%x and padding %u, where a plain database has 0 and 0.", who, d.flags, d.pad);
            if (check_dbrec(a, pgno, who, &d, a->last, psize)) return -1;
            if (add_named(a, key, ks, &d, pgno)) return -1;
        }
    }
    return 0;
}

/* Walks one tree and compares what it found with the recorded statistics. */
static int walk_tree(auditor *a, walker *w, const dbrec *d, uint64_t ref) {
    w->depth = d->depth;
    w->branch = w->leaf = w->overflow = w->entries = 0;
    if (d->root == P_INVALID) return 0;
    kbound none = { NULL, 0, 0 };
    if (walk_page(a, w, d->root, 0, ref, none, none)) return -1;
    const char *what = NULL;
    uint64_t rec = 0, got = 0;
    if (w->branch != d->branch) { what = "branch pages"; rec = d->branch; got = w->branch; }
    else if (w->leaf != d->leaf) { what = "leaf pages"; rec = d->leaf; got = w->leaf; }
    else if (w->overflow != d->overflow) { what = "overflow pages"; rec = d->overflow; got = w->overflow; }
    else if (w->entries != d->entries) { what = "entries"; rec = d->entries; got = w->entries; }
    if (what)
        return damage(a, ref, "%s records %llu %s but its tree has %llu.", w->what, (ull)rec, what, (ull)got);
    return 0;
}

/* Mode 1: the root pages of the named databases, without walking them. */
static int check_named_roots(auditor *a) {
    uint8_t h[PAGEHDRSZ];
    for (size_t i = 0; i < a->nnamed; i++) {
        const named_db *e = &a->named[i];
        uint64_t r = e->db.root;
        if (r == P_INVALID) continue;
        if (read_at(a, h, sizeof h, r * a->psize, r)) return -1;
        unsigned o = owner_get(a, r);
        if (o != O_NONE)
            return damage(a, r, "the root page %llu of %s is also used by %s.", (ull)r, e->what, owner_name(o));
        owner_set(a, r, O_TREE);
        if (rd64(h) != r)
            return damage(a, r, "the root page %llu of %s holds the header of page %llu.", (ull)r, e->what, (ull)rd64(h));
        uint16_t want = e->db.depth > 1 ? P_BRANCH : P_LEAF;
        if (rd16(h + 10) != want)
            return damage(a, r, "the root page %llu of %s should be %s but its flags are 0x%x.", (ull)r, e->what, page_kind(want), rd16(h + 10));
    }
    return 0;
}

/* Walks the trees of one snapshot: the main DB (and in mode 2 the named ones), then the free
 * list; in mode 2 every page must be owned. */
static int audit_snapshot(auditor *a, const metarec *cm, int use, int mode) {
    free(a->owner);
    a->owner = NULL;
    a->nnamed = 0;
    a->live = a->listed = a->listed_beyond = 0;
    a->last = cm->last;
    a->txnid = cm->txnid;
    size_t obytes = (size_t)((a->last + 1 + 3) / 4);
    a->owner = calloc(obytes, 1);
    if (!a->owner) return io_error(a, ENOMEM);

    walker w;
    w.what = "the main database";
    w.kind = K_MAIN;
    if (walk_tree(a, &w, &cm->dbs[1], (uint64_t)use)) return -1;
    if (mode == 1) {
        if (check_named_roots(a)) return -1;
    } else {
        for (size_t i = 0; i < a->nnamed; i++) {
            walker nw;
            nw.what = a->named[i].what;
            nw.kind = K_NAMED;
            if (walk_tree(a, &nw, &a->named[i].db, a->named[i].ref)) return -1;
        }
    }
    w.what = "the free list";
    w.kind = K_FREE;
    if (walk_tree(a, &w, &cm->dbs[0], (uint64_t)use)) return -1;

    /* Pages beyond the end of the file are ones LMDB allocated and freed without writing them:
     * each must be listed free. */
    uint64_t beyond = a->last + 1 > a->file_pages ? a->last + 1 - a->file_pages : 0;
    if (a->listed_beyond != beyond) {
        for (uint64_t p = a->file_pages; p <= a->last; p++)
            if (owner_get(a, p) != O_LISTED)
                return damage(a, p, "page %llu lies beyond the end of the file (%llu bytes) but is not listed as free.", (ull)p, (ull)a->fsize);
    }
    if (mode == 2) {
        for (uint64_t p = NUM_METAS; p <= a->last;) {
            if ((p & 3) == 0 && p + 3 <= a->last) {
                uint8_t b = a->owner[p >> 2];
                if ((b & 0x03) && (b & 0x0c) && (b & 0x30) && (b & 0xc0)) { p += 4; continue; }
            }
            if (owner_get(a, p) == O_NONE)
                return damage(a, p, "page %llu is neither used nor free (leaked).", (ull)p);
            p++;
        }
    }
    return 0;
}

static int audit(auditor *a, int mode, uint64_t expected) {
    clmdb_audit_report *out = a->out;
    struct stat st;
    if (fstat(a->fd, &st) != 0) return io_error(a, errno);
    if (st.st_size < 0) return io_error(a, EIO);
    a->fsize = (uint64_t)st.st_size;

    uint8_t b0[META_END], b1[META_END];
    metarec m[2];
    if (a->fsize < META_END)
        return damage(a, 0, "the file is %llu bytes long, too short to hold meta page 0.", (ull)a->fsize);
    if (read_at(a, b0, META_END, 0, 0)) return -1;
    parse_meta(b0, &m[0]);
    if (check_meta_header(a, 0, &m[0])) return -1;
    uint32_t psize = m[0].dbs[0].pad;
    if (!is_pow2(psize) || psize < MIN_PAGESIZE || psize > MAX_PAGESIZE)
        return damage(a, 0, "meta page 0: the page size %u is not a power of two from 512 to 32768.", psize);
    a->psize = psize;
    a->file_pages = a->fsize / psize;
    if (a->fsize < (uint64_t)psize + META_END)
        return damage(a, 0, "meta page 0: the page size %u puts meta page 1 beyond the end of the file (%llu bytes).", psize, (ull)a->fsize);
    if (read_at(a, b1, META_END, psize, 1)) return -1;
    parse_meta(b1, &m[1]);
    if (check_meta_header(a, 1, &m[1]) == 0) {
        if (m[1].dbs[0].pad != psize)
            return damage(a, 1, "meta page 1: the page size %u differs from meta page 0's %u.", m[1].dbs[0].pad, psize);
    } else {
        /* No meta page 1 where meta page 0's page size puts it: is it elsewhere? */
        for (uint32_t at = MIN_PAGESIZE; at <= MAX_PAGESIZE; at *= 2) {
            uint8_t probe[META_END];
            metarec pm;
            if (at == psize || a->fsize < (uint64_t)at + META_END) continue;
            if (read_at(a, probe, META_END, at, 1)) return -1;
            parse_meta(probe, &pm);
            if (pm.pgno == 1 && pm.pflags == P_META && pm.magic == MDB_MAGIC && pm.version == MDB_DATA_VERSION && pm.dbs[0].pad == at)
                return damage(a, 0, "meta page 0: the page size %u is wrong (meta page 1 lies at %u bytes).", psize, at);
        }
        return -1; /* the header damage of meta page 1, already described */
    }
    if (check_meta(a, 0, &m[0], psize)) return -1;
    if (check_meta(a, 1, &m[1], psize)) return -1;

    /* The two together. */
    if (m[0].dbs[0].flags != m[1].dbs[0].flags)
        return damage(a, 1, "meta page 1: the free list's flags 0x%x differ from meta page 0's 0x%x (LMDB never changes them).",
                      m[1].dbs[0].flags, m[0].dbs[0].flags);
    uint64_t t0 = m[0].txnid, t1 = m[1].txnid;
    int newer = t0 < t1;
    if (t1 == 0 && t0 != 0)
        return damage(a, 1, "meta page 1 holds transaction 0 while meta page 0 holds %llu (only a new environment has 0 in both).", (ull)t0);
    if (!(t0 == 0 && t1 == 0) && (newer ? t1 - t0 : t0 - t1) != 1)
        return damage(a, (uint64_t)newer, "the meta pages hold transactions %llu and %llu, which are not consecutive.", (ull)t0, (ull)t1);
    const metarec *nm = &m[newer], *om = &m[!newer];
    if (om->last > nm->last)
        return damage(a, (uint64_t)!newer, "meta page %d (the older) records last page %llu, beyond the newer meta page's %llu.",
                      !newer, (ull)om->last, (ull)nm->last);
    if (om->mapsize > nm->mapsize)
        return damage(a, (uint64_t)!newer, "meta page %d (the older) records a map size of %llu, larger than the newer meta page's %llu.",
                      !newer, (ull)om->mapsize, (ull)nm->mapsize);

    int use = newer;
    if (expected != 0) {
        if (t0 == expected) use = 0;
        else if (t1 == expected) use = 1;
        else return damage(a, P_INVALID, "neither meta page holds transaction %llu (they hold %llu and %llu).", (ull)expected, (ull)t0, (ull)t1);
    }
    const metarec *cm = &m[use];
    out->txnid = cm->txnid;
    out->last_page = cm->last;
    out->page_size = psize;
    a->nodemax = (((psize - PAGEHDRSZ) / 2) & ~1u) - 2;
    if (mode == 0) return 0;
    a->bufs = malloc((size_t)MAX_DEPTH * psize);
    a->chunk = malloc(CHUNK);
    a->tile = malloc((psize / 2) * sizeof *a->tile);
    if (!a->bufs || !a->chunk || !a->tile) return io_error(a, ENOMEM);
    if (audit_snapshot(a, cm, use, mode)) return -1;
    out->free_pages = a->listed;
    if (mode == 2) out->live_pages = a->live;
    if (mode < 2) return 0;

    /* Verify: the other meta page's snapshot is what LMDB falls back to; its free list and main
     * database must be sound too (LMDB reuses none of its pages before it is replaced). */
    const metarec *other = &m[!use];
    if (audit_snapshot(a, other, !use, 1)) {
        if (a->rc != CLMDB_AUDIT_DAMAGED) return -1;
        char inner[sizeof out->message];
        memcpy(inner, out->message, sizeof inner);
        inner[sizeof inner - 1] = '\0';
        return damage(a, out->damaged_page, "in the snapshot of meta page %d (transaction %llu), %.320s", !use, (ull)other->txnid, inner);
    }
    return 0;
}

int clmdb_audit(int fd, int mode, uint64_t expected_txnid, clmdb_audit_report *out) {
    if (!out) return CLMDB_AUDIT_IO;
    memset(out, 0, sizeof *out);
    out->damaged_page = UINT64_MAX;
    if (mode < 0 || mode > 2 || fd < 0) {
        out->io_errno = fd < 0 ? EBADF : EINVAL;
        snprintf(out->message, sizeof out->message, "the audit was called with an invalid %s.", fd < 0 ? "file descriptor" : "mode");
        return CLMDB_AUDIT_IO;
    }
    auditor a;
    memset(&a, 0, sizeof a);
    a.fd = fd;
    a.mode = mode;
    a.out = out;
    a.rc = CLMDB_AUDIT_OK;
    if (audit(&a, mode, expected_txnid) == 0) {
        a.rc = CLMDB_AUDIT_OK;
        out->message[0] = '\0';
        out->damaged_page = UINT64_MAX;
    } else if (a.rc == CLMDB_AUDIT_OK) {
        a.rc = CLMDB_AUDIT_DAMAGED;
    }
    free(a.owner);
    free(a.bufs);
    free(a.chunk);
    free(a.tile);
    free(a.named);
    return a.rc;
}
