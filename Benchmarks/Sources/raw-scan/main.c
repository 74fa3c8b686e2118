// The reference of docs/PERFORMANCE.md's process rows: a plain C program that opens a store
// read-only, walks the `events` database with mdb_cursor_get(MDB_NEXT) and touches every byte
// of every value. Usage: raw-scan STORE_DIRECTORY. Prints the number of events.
#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: raw-scan STORE_DIRECTORY\n");
        return 2;
    }
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cursor;
    MDB_val key, value;
    uint64_t count = 0, sum = 0;
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 64) || mdb_env_set_mapsize(env, (size_t)1 << 40)
        || mdb_env_open(env, argv[1], MDB_RDONLY | MDB_NOLOCK, 0600)) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 1;
    }
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) || mdb_dbi_open(txn, "events", 0, &dbi) || mdb_cursor_open(txn, dbi, &cursor)) {
        fprintf(stderr, "no events database in %s\n", argv[1]);
        return 1;
    }
    while (mdb_cursor_get(cursor, &key, &value, MDB_NEXT) == 0) {
        const unsigned char *bytes = value.mv_data;
        for (size_t i = 0; i < value.mv_size; i++) sum += bytes[i];
        count++;
    }
    printf("%llu %llu\n", (unsigned long long)count, (unsigned long long)sum);
    return 0;
}
