import CLMDB
import CLMDBGuard
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An LMDB environment: one directory holding `data.mdb` and `lock.mdb`, shared by threads and
/// processes. One writer at a time, any number of readers.
///
/// Transactions are scoped: ``read(_:)`` and ``write(_:)`` hand the closure a transaction that is
/// valid only inside it. A write commits when the closure returns and aborts when it throws.
///
/// ```swift
/// let env = try Environment(path: "/var/lib/clinic/store")
/// let db = try env.openDatabase(named: "events")
/// try env.write { txn in try txn.put([1, 2, 3], forKey: [0, 0, 0, 1], in: db) }
/// let copy = try env.read { txn in try txn.bytes(forKey: [0, 0, 0, 1], in: db) }
/// ```
///
/// Damage is refused, never read through: a data file shorter than its last commit needs is
/// refused at open and whenever a transaction begins, and every key and value LMDB hands out is
/// checked to lie inside the file (``LMDBError/corrupted`` otherwise). Writers exclude each other
/// by a lock on `data.mdb` as well as LMDB's own, so removing `lock.mdb` cannot let two writers
/// overwrite each other (see `ProcessLocks`).
///
/// ## Topics
/// - ``read(_:)``
/// - ``write(_:)``
/// - ``openDatabase(named:create:)``
/// - ``copy(to:compacting:)``
public final class Environment: @unchecked Sendable {
    // @unchecked: the MDB_env handle is thread-safe for everything used here (MDB_NOTLS), and the
    // map size is only changed under `resizeLock`.
    let handle: OpaquePointer
    /// The directory this environment lives in.
    public let path: String
    public let options: Options
    private let resizeLock = ResizeLock()
    let locks: ProcessLocks
    let bounds = MapBounds()
    /// Set when a write transaction was abandoned after a fault inside LMDB.
    let writeAbandoned = Atomic<Bool>(false)
    /// The last commit of this environment's own writes (each made after the check before it).
    let writeChecked = Mutex<Int>(-1)
    /// The commit and file size at which a data file shorter than its last page was found sound.
    private let shortFileChecked = Mutex<(Int, Int)>((-1, -1))
    /// The size of a page of the data file.
    public let pageSize: Int

    /// Opens (or, unless read-only, creates) the environment in the existing directory `path`.
    ///
    /// - Throws: ``LMDBError/dataFileTruncated`` for a data file shorter than its last commit,
    ///   ``LMDBError/lockFileMissing`` when `lock.mdb` was removed while another process uses the
    ///   environment, or LMDB's own errors.
    public init(path: String, options: Options = Options()) throws(LMDBError) {
        clmdb_install_fault_guard()
        try ProcessLocks.prepare(directory: path)
        // LMDB trusts its meta pages; damaged ones are refused before it reads them.
        try Self.checkMetaPages(directory: path)
        var env: OpaquePointer?
        try check(mdb_env_create(&env))
        guard let env else { throw LMDBError.invalid }
        do {
            // An assertion of LMDB's inside a guarded call becomes that call's error, not abort().
            try check(clmdb_env_set_assert(env))
            try check(mdb_env_set_maxdbs(env, MDB_dbi(options.maxDatabases)))
            try check(mdb_env_set_maxreaders(env, UInt32(options.maxReaders)))
            try check(mdb_env_set_mapsize(env, options.mapSize))
            var flags = UInt32(MDB_NOTLS)
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            if !options.durable { flags |= UInt32(MDB_NOSYNC) }
            try check(clmdb_env_open(env, path, flags, options.fileMode))
            locks = try ProcessLocks(directory: path, readOnly: options.readOnly)
        } catch {
            mdb_env_close(env)
            throw error
        }
        var stat = MDB_stat()
        mdb_env_stat(env, &stat)
        self.handle = env
        self.path = path
        self.options = options
        self.pageSize = Int(stat.ms_psize)
        // Release reader slots left behind by processes that died inside a read transaction.
        var dead: Int32 = 0
        mdb_reader_check(env, &dead)
        locateMap()
        try checkFileSize()
    }

    deinit {
        bounds.release()
        mdb_env_close(handle)
    }

    /// The current size of the memory map in bytes.
    public var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    /// The largest key this environment accepts, in bytes.
    public var maxKeySize: Int { Int(mdb_env_get_maxkeysize(handle)) }

    /// Lets the kernel take back the pages of the map this process has read, so that a scan of
    /// a large store does not keep the whole file resident in this process (the resident size
    /// counts mapped file pages). The data stays in the page cache and in the file: a later read
    /// of the same bytes faults them back in, so views into the map stay valid. Pages written
    /// through the map are kept dirty (the kernel moves the dirty bit to the page).
    public func releaseReadPages() {
        // LMDB does not say where it mapped the file (its `me_mapaddr` is only the address asked
        // for with MDB_FIXEDMAP); the map's bounds found in /proc/self/maps do.
        guard let base = bounds.start else { return }
        let used = min(mapSize, (locks.dataFileSize() + pageSize - 1) / pageSize * pageSize)
        _ = madvise(base, used, MADV_DONTNEED)
    }

    /// The bytes of the data file the last commit uses (its pages), saturating rather than
    /// trapping on a damaged page count.
    public var usedBytes: Int {
        let (bytes, overflow) = info().lastPage.addingReportingOverflow(1).partialValue.multipliedReportingOverflow(by: pageSize)
        return overflow ? Int.max : bytes
    }

    /// Whether nothing was ever committed: a data file LMDB has just created.
    public var isEmpty: Bool { info().lastTransaction == 0 }

    /// Opens a named database, creating it if `create` is true and the environment is writable.
    /// Returns `nil` when it does not exist and is not to be created.
    public func openDatabase(named name: String, create: Bool = true) throws -> Database? {
        if options.readOnly || !create {
            return try read({ txn -> Database? in try txn.openDatabase(named: name) }, commitHandles: true)
        }
        return try write { txn in try txn.createDatabase(named: name) }
    }

    /// Runs `body` in a read transaction that sees one consistent snapshot.
    ///
    /// Bytes the transaction hands out point into the memory map and are valid only inside `body`.
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        try read(body, commitHandles: false)
    }

    /// ``read(_:)`` that commits the transaction, so that database handles opened in it
    /// (``TransactionReading/openDatabase(named:)``) stay valid after it.
    public func read<R>(
        _ body: (borrowing ReadTransaction) throws -> R, commitHandles: Bool
    ) throws -> R {
        while true {
            do {
                return try resizeLock.withShared {
                    try checkNoFaults()
                    let txn = try begin(parent: nil, readOnly: true)
                    do {
                        try checkFileSize()
                        let result = try body(ReadTransaction(handle: txn, environment: self))
                        // What was read in place after a page vanished under it is not used.
                        try checkNoFaults()
                        // Committing a read transaction is how a database handle opened in it
                        // becomes visible to others; otherwise abort is the cheaper release.
                        if commitHandles { try commit(txn) } else { mdb_txn_abort(txn) }
                        return result
                    } catch {
                        mdb_txn_abort(txn)
                        try checkNoFaults()
                        throw error
                    }
                }
            } catch LMDBError.mapResized {
                try adoptGrownMap()
            }
        }
    }

    /// Runs `body` in the write transaction and commits when it returns; aborts when it throws.
    ///
    /// When the map is full, the transaction is aborted, the map grows and `body` runs again from
    /// the start, so `body` must not have effects outside the transaction. Callers never see
    /// ``LMDBError/mapFull``.
    ///
    /// - Throws: ``LMDBError/lockFileReplaced`` when `lock.mdb` is not the file this process
    ///   opened, or another process commits through a reader table of its own: the write is
    ///   refused rather than risk overwriting its commits.
    public func write<R>(_ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        guard !options.readOnly else { throw LMDBError.permissionDenied }
        while true {
            do {
                return try resizeLock.withShared {
                    try locks.withWriterLock {
                        // A write transaction a fault jumped out of was abandoned (its memory
                        // is not freed: LMDB's lists may be half changed); this environment
                        // writes no more until it is opened again.
                        guard !writeAbandoned.load(ordering: .acquiring) else { throw LMDBError.pageFault }
                        let jumps = clmdb_guard_jumps()
                        try checkNoFaults()
                        // What the writer relies on (the meta pages, the free list whose pages it
                        // reuses) is checked first: a write into a damaged free list would
                        // overwrite live pages and still be acknowledged.
                        try checkBeforeWrite()
                        let txn = try begin(parent: nil, readOnly: false)
                        let result: R
                        do {
                            try checkFollowsLastCommit(txn)
                            try checkFileSize()
                            result = try body(WriteTransaction(handle: txn, environment: self))
                            try checkNoFaults()
                        } catch {
                            if clmdb_guard_jumps() != jumps {
                                writeAbandoned.store(true, ordering: .releasing)
                            } else {
                                mdb_txn_abort(txn)
                            }
                            try checkNoFaults()
                            throw error
                        }
                        let transaction = Int(mdb_txn_id(txn))
                        try commit(txn, abandoningOnFault: true)
                        noteCommitted(transaction)
                        return result
                    }
                }
            } catch LMDBError.mapFull {
                try growMap()
            } catch LMDBError.mapResized {
                try adoptGrownMap()
            }
        }
    }

    /// Commits `txn`. LMDB frees a transaction whether or not its commit succeeds, unless the
    /// commit faulted on a damaged page (the guard's code), when it must still be aborted.
    func commit(_ txn: OpaquePointer, abandoningOnFault: Bool = false) throws(LMDBError) {
        let rc = clmdb_txn_commit(txn)
        if rc == LMDBError.pageFault.rawValue || rc == LMDBError.assertion.rawValue {
            // A write transaction a fault jumped out of is abandoned (see write(_:)); a read
            // transaction's abort only releases its reader slot.
            if abandoningOnFault { writeAbandoned.store(true, ordering: .releasing) } else { mdb_txn_abort(txn) }
        }
        try check(rc)
    }

    /// Refuses a transaction, at its start and at its end, once a page of the map vanished under
    /// a reader of this process (the file shrank): the map holds zeros there until the environment
    /// is opened again, so nothing read since is used.
    private func checkNoFaults() throws(LMDBError) {
        guard bounds.faults == 0 else { throw LMDBError.fileShrank }
    }

    func begin(parent: OpaquePointer?, readOnly: Bool) throws(LMDBError) -> OpaquePointer {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(handle, parent, readOnly ? UInt32(MDB_RDONLY) : 0, &txn))
        guard let txn else { throw LMDBError.badTransaction }
        return txn
    }

    /// A write transaction takes its number from the reader table in `lock.mdb` and its root
    /// from the meta page of that number's parity. When another process committed through a
    /// different lock file, the two disagree and this transaction would build on an old root.
    private func checkFollowsLastCommit(_ txn: OpaquePointer) throws(LMDBError) {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        guard mdb_txn_id(txn) == info.me_last_txnid + 1 else { throw LMDBError.lockFileReplaced }
    }

    /// Refuses a data file shorter than the pages its last commit uses: reading them through the
    /// map would end the process with SIGBUS.
    func checkFileSize() throws(LMDBError) {
        // The page count is read from the file: a damaged one must not overflow.
        let (needed, overflow) = info().lastPage.addingReportingOverflow(1).partialValue.multipliedReportingOverflow(by: pageSize)
        guard !overflow else { throw LMDBError.dataFileTruncated }
        let size = locks.dataFileSize()
        if size >= needed { return }
        // LMDB may leave the last pages unwritten when a transaction allocated and freed them
        // again (they are listed free): a file that short is sound. Anything else is cut off.
        guard shortFileIsSound(size: size) else { throw LMDBError.dataFileTruncated }
    }

    /// Whether a data file shorter than its last page is so only by pages LMDB lists as free
    /// (the structure audit says so), remembered for the commit and size it was checked at.
    private func shortFileIsSound(size: Int) -> Bool {
        let commit = info().lastTransaction
        if shortFileChecked.withLock({ $0 == (commit, size) }) { return true }
        guard let report = try? audit(.beforeWrite), report.isSound else { return false }
        shortFileChecked.withLock { $0 = (commit, size) }
        return true
    }

    private func locateMap() {
        let identity = locks.dataFileIdentity()
        bounds.locate(device: identity.device, inode: identity.inode, fileSize: locks.dataFileSize())
    }

    /// Whether `bytes` lie inside the data file (or outside the map: a dirty page).
    @inline(__always)
    func contains(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bounds.contains(bytes) { locks.dataFileSize() }
    }

    /// Doubles the map (in steps of at most 4 GiB once it is large).
    private func growMap() throws(LMDBError) {
        try resizeLock.withExclusive { () throws(LMDBError) in
            let current = mapSize
            let step = min(current, 4 << 30)
            try check(mdb_env_set_mapsize(handle, current + step))
            locateMap()
        }
        options.mapGrown?(mapSize)
    }

    /// Takes on the larger map size another process has set.
    private func adoptGrownMap() throws(LMDBError) {
        try resizeLock.withExclusive { () throws(LMDBError) in
            try check(mdb_env_set_mapsize(handle, 0))
            locateMap()
            try checkFileSize()
        }
    }

    /// Grows the map, when needed, so that at least `bytes` more can be written without the map
    /// filling up: for a write that cannot start over (one that reads a stream once). The map is
    /// address space, not disk: the file grows only as it is written.
    public func reserve(room bytes: Int) throws {
        guard !options.readOnly else { return }
        try resizeLock.withExclusive { () throws(LMDBError) in
            let used = usedBytes
            guard mapSize - used < bytes else { return }
            try check(mdb_env_set_mapsize(handle, used + bytes))
            locateMap()
        }
    }

    /// Copies the environment into the existing empty directory `destination` while readers and
    /// a writer go on. With `compacting`, free pages are left out and the copy is renumbered, so
    /// nothing freed in the source reaches the copy.
    public func copy(to destination: String, compacting: Bool = true) throws {
        try resizeLock.withShared { () throws(LMDBError) in
            try check(clmdb_env_copy2(handle, destination, compacting ? UInt32(MDB_CP_COMPACT) : 0))
        }
    }

    /// Overwrites with zeros every copy of `bytes` left in free pages that no reader can see any
    /// more, flushes the file, and returns the places a reader may still see, for a later
    /// ``scrub(_:matching:)`` (keep them durably: a crash in between must not forget them).
    ///
    /// Values LMDB replaced live on in the pages it copied them from until it reuses them. A page
    /// freed by commit F is part of every older snapshot: it is overwritten only when no reader
    /// of any process holds a snapshot older than F, and not before two commits have passed since
    /// the value was replaced (so that neither meta page still refers to it) — LMDB's own rule for
    /// reusing a page. A running backup or replay therefore never sees a page change under it.
    public func scrubFreePages(containing bytes: [UInt8]) throws -> ScrubOutcome {
        try scrubFreePages(containingAny: [bytes])
    }

    /// ``scrubFreePages(containing:)`` for many values at once (every data key a rotation
    /// retired): each free page is read once, and each place where one of `values` begins is
    /// found by its first eight bytes. Values shorter than eight bytes are ignored.
    public func scrubFreePages(containingAny values: [[UInt8]]) throws -> ScrubOutcome {
        guard values.contains(where: { $0.count >= 8 }), !options.readOnly else { return ScrubOutcome() }
        var byPrefix: [UInt64: [Int]] = [:]
        for (index, value) in values.enumerated() where value.count >= 8 {
            byPrefix[value.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }, default: []].append(index)
        }
        return try withFreePages { free, safe in
            var outcome = ScrubOutcome()
            let fileSize = locks.dataFileSize()
            for (page, freedBy) in free where (page + 1) * pageSize <= fileSize {
                guard let contents = locks.readBytes(count: pageSize, at: page * pageSize), contents.count >= 8 else { continue }
                var offset = 0
                while offset + 8 <= contents.count {
                    let prefix = contents.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
                    guard let candidates = byPrefix[prefix],
                          let match = candidates.first(where: {
                              offset + values[$0].count <= contents.count && contents[offset..<(offset + values[$0].count)].elementsEqual(values[$0])
                          }) else {
                        offset += 1
                        continue
                    }
                    let value = values[match]
                    if safe(freedBy) {
                        try zero(value.count, at: page * pageSize + offset)
                        outcome.overwritten += 1
                    } else {
                        outcome.deferred.append(ScrubSite(page: page, offset: offset, length: value.count, freedBy: freedBy))
                        outcome.deferredMatches.append(match)
                    }
                    offset += value.count
                }
            }
            if outcome.overwritten > 0 { try locks.sync() }
            return outcome
        }
    }

    /// Overwrites each of `sites` whose page no reader can see any more and which still holds
    /// exactly its value (a retired value unique to the page it was freed with: a page reused
    /// since holds something else there and is left alone), without walking the free list: for
    /// a value retired by every commit (the previous head's seal). Flushed only with `sync`.
    /// Returns the sites still waiting for their readers.
    public func overwriteStale(_ sites: [(site: ScrubSite, value: [UInt8])], sync: Bool) throws -> [(site: ScrubSite, value: [UInt8])] {
        guard !sites.isEmpty, !options.readOnly else { return sites }
        return try resizeLock.withShared {
            try locks.withWriterLock {
                let oldest = oldestVisibleCommit(last: UInt64(info().lastTransaction))
                var waiting: [(site: ScrubSite, value: [UInt8])] = []
                var overwritten = 0
                for (site, value) in sites {
                    guard site.freedBy < oldest else {
                        waiting.append((site, value))
                        continue
                    }
                    let at = site.page * pageSize + site.offset
                    guard site.offset + site.length <= pageSize, let found = locks.readBytes(count: site.length, at: at), found == value else { continue }
                    try zero(site.length, at: at)
                    overwritten += 1
                }
                if sync && overwritten > 0 { try locks.sync() }
                return waiting
            }
        }
    }

    /// Overwrites the `sites` that no reader can see any more and whose bytes `matching` still
    /// recognises (a page LMDB reused since was written whole, and holds nothing of the old
    /// value: it is dropped). Returns the sites a reader may still see.
    public func scrub(_ sites: [ScrubSite], matching: (ScrubSite, [UInt8]) -> Bool) throws -> [ScrubSite] {
        guard !sites.isEmpty, !options.readOnly else { return sites }
        return try withFreePages { free, safe in
            let freedBy = Dictionary(free, uniquingKeysWith: { first, _ in first })
            var waiting: [ScrubSite] = []
            var overwritten = 0
            for site in sites {
                // No longer free: reused (and rewritten whole) since; nothing of the value is left.
                guard let freed = freedBy[site.page] else { continue }
                guard safe(freed) else {
                    waiting.append(site)
                    continue
                }
                let at = site.page * pageSize + site.offset
                guard site.offset + site.length <= pageSize, let found = locks.readBytes(count: site.length, at: at), matching(site, found) else { continue }
                try zero(site.length, at: at)
                overwritten += 1
            }
            if overwritten > 0 { try locks.sync() }
            return waiting
        }
    }

    /// Overwrites every copy of `values` in the pages freed by commits after `after` that no
    /// reader can see any more, reading only those pages (a commit frees a few: the ones it
    /// copied), not the whole free list. Returns the last commit whose pages were looked at.
    ///
    /// For values retired by every commit (the previous head's seal): LMDB's recycled page
    /// buffers can carry such a value into the unused middle of another page it writes, which a
    /// later commit frees in turn; this finds those copies too.
    public func scrubPagesFreed(after: UInt64, values: [[UInt8]]) throws -> UInt64 {
        guard !values.isEmpty, !options.readOnly else { return after }
        return try resizeLock.withShared {
            try locks.withWriterLock {
                let txn = try begin(parent: nil, readOnly: true)
                defer { mdb_txn_abort(txn) }
                let lastPage = info().lastPage
                let oldest = oldestVisibleCommit(last: UInt64(mdb_txn_id(txn)))
                var reached = after
                var pages: [Int] = []
                try ReadTransaction(handle: txn, environment: self).withFreeListCursor { cursor in
                    var entry = try cursor.seek(atOrAfter: withUnsafeBytes(of: after &+ 1) { Array($0) })
                    while let current = entry, current.key.count == 8 {
                        let freedBy = current.key.loadUnaligned(as: UInt64.self)
                        guard freedBy < oldest else { break }
                        pages += Self.pages(inFreeListValue: current.value, lastPage: lastPage)
                        reached = max(reached, freedBy)
                        entry = try cursor.next()
                    }
                }
                var overwritten = 0
                for page in pages {
                    guard let contents = locks.readBytes(count: pageSize, at: page * pageSize) else { continue }
                    for value in values where !value.isEmpty {
                        for offset in Self.occurrences(of: value, in: contents) {
                            try zero(value.count, at: page * pageSize + offset)
                            overwritten += 1
                        }
                    }
                }
                return reached
            }
        }
    }

    /// Pages freed by a commit older than this may be overwritten: older than every reader's
    /// snapshot, of any process (LMDB's reader table), and than the last commit `last`, whose
    /// predecessor's meta page still names the pages it freed. LMDB's own rule for reusing a page.
    private func oldestVisibleCommit(last: UInt64) -> UInt64 {
        min(clmdb_oldest_reader(handle), last)
    }

    /// Overwrites `count` bytes of the data file at `offset` with zeros (a retired value in a
    /// page no reader can see; the caller holds the writer lock).
    private func zero(_ count: Int, at offset: Int) throws {
        try locks.overwrite([UInt8](repeating: 0, count: count), at: offset)
    }

    /// The page numbers of a free-list record's value: a count, then that many page numbers,
    /// each a size_t. A record mdb_freelist_save reserved may hold a count of 0 and slack words
    /// that are no page numbers: only `count` words are read, and only numbers of real pages kept.
    static func pages(inFreeListValue value: UnsafeRawBufferPointer, lastPage: Int) -> [Int] {
        let words = value.count / MemoryLayout<Int>.stride
        guard words > 1 else { return [] }
        let count = value.loadUnaligned(as: Int.self)
        guard count >= 1 else { return [] }
        return (1...min(count, words - 1)).compactMap { index in
            let page = value.loadUnaligned(fromByteOffset: index * MemoryLayout<Int>.stride, as: Int.self)
            return page >= 2 && page <= lastPage ? page : nil
        }
    }

    /// The offsets of `needle` in `haystack` (libc's memmem: a search per page per value must
    /// cost microseconds on the commit path, in a debug build too).
    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> [Int] {
        var found: [Int] = []
        haystack.withUnsafeBytes { hay in
            needle.withUnsafeBytes { pin in
                guard let base = hay.baseAddress, let pattern = pin.baseAddress, pin.count > 0 else { return }
                var offset = 0
                while offset + pin.count <= hay.count, let hit = clmdb_memmem(base + offset, hay.count - offset, pattern, pin.count) {
                    let at = UnsafeRawPointer(hit) - base
                    found.append(at)
                    offset = at + pin.count
                }
            }
        }
        return found
    }

    /// The pages LMDB's free list holds, with the commit that freed each (for checks and tests).
    public func freePages() throws -> [(page: Int, freedBy: UInt64)] {
        try withFreePages { free, _ in free }
    }

    /// Runs `body` with LMDB's free list (each free page and the commit that freed it) and a test
    /// of whether a page freed by a commit may be overwritten now, holding the writer lock so that
    /// no writer of any process reuses a page meanwhile.
    private func withFreePages<R>(_ body: ([(page: Int, freedBy: UInt64)], (UInt64) -> Bool) throws -> R) throws -> R {
        try resizeLock.withShared {
            try locks.withWriterLock {
                let txn = try begin(parent: nil, readOnly: true)
                defer { mdb_txn_abort(txn) }
                var free: [(page: Int, freedBy: UInt64)] = []
                let lastPage = info().lastPage
                try ReadTransaction(handle: txn, environment: self).withFreeListCursor { cursor in
                    var entry = try cursor.first()
                    while let current = entry {
                        // The key is the commit that freed the pages; the value a count, then
                        // that many page numbers, each a size_t.
                        let freedBy = current.key.count == 8 ? current.key.loadUnaligned(as: UInt64.self) : UInt64.max
                        free += Self.pages(inFreeListValue: current.value, lastPage: lastPage).map { ($0, freedBy) }
                        entry = try cursor.next()
                    }
                }
                let oldest = oldestVisibleCommit(last: UInt64(mdb_txn_id(txn)))
                return try body(free) { freedBy in freedBy < oldest }
            }
        }
    }

    /// Flushes the data buffers to disk (needed only when opened with `durable == false`).
    public func sync() throws {
        try check(mdb_env_sync(handle, 1))
    }

    /// Statistics of the environment's main database and page use.
    public func info() -> (mapSize: Int, lastPage: Int, lastTransaction: Int, readers: Int) {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return (info.me_mapsize, info.me_last_pgno, info.me_last_txnid, Int(info.me_numreaders))
    }
}
