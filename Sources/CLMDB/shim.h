#ifndef CLMDB_SHIM_H
#define CLMDB_SHIM_H
#include <lmdb.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/types.h>
#if defined(__linux__)
#include <sys/sysmacros.h>
#endif

/*
 * Byte-range locks owned by an open file description (Linux "OFD" locks): unlike classic POSIX
 * record locks they are not dropped when the process closes some other descriptor of the same
 * file (LMDB keeps its own descriptors of data.mdb), and unlike flock they lock single bytes.
 * The store locks bytes of data.mdb, a file that cannot be removed without destroying the store,
 * so the exclusion survives the removal of LMDB's lock file.
 */
#if defined(__linux__)
#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif

/* Takes (type F_RDLCK or F_WRLCK) or releases (F_UNLCK) the lock on one byte; waits when `wait`. */
static inline int clmdb_lock_byte(int fd, short type, off_t byte, int wait) {
    struct flock lock;
    memset(&lock, 0, sizeof lock);
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = byte;
    lock.l_len = 1;
    int rc;
    do {
        rc = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &lock);
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : errno;
}

/* 1 when another open file description holds a lock on the byte that conflicts with `type`. */
/* A device number from its parts (makedev is a macro, which Swift cannot call). */
static inline unsigned long long clmdb_makedev(unsigned int major, unsigned int minor) {
    return makedev(major, minor);
}

static inline int clmdb_byte_is_locked(int fd, short type, off_t byte) {
    struct flock lock;
    memset(&lock, 0, sizeof lock);
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = byte;
    lock.l_len = 1;
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0) return -1;
    return lock.l_type != F_UNLCK;
}
#endif

#endif
