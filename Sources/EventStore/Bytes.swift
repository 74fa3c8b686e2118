import Foundation

/// Byte encodings of the keys and fixed-width fields the store writes.
package enum Bytes {
    /// `value` as 8 bytes, most significant first, so keys sort in numeric order.
    @inline(__always)
    package static func bigEndian(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// Reads 8 big-endian bytes; `nil` when `bytes` is not 8 bytes long.
    @inline(__always)
    package static func uint64(bigEndian bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self))
    }

    /// `bytes` as lowercase hexadecimal, two digits a byte.
    package static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Bytes {
    /// FNV-1a over `bytes`: the hash ids are routed and tabled by.
    @inlinable @inline(__always)
    package static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}

/// A table keyed by byte strings, looked up with borrowed bytes (no allocation on a hit).
///
/// Ids are compared as bytes, never as Swift `String`s: `String` equality is canonical
/// equivalence, so "José" written precomposed (NFC) and decomposed (NFD) would be one key, while
/// LMDB keeps them as two streams.
///
/// Open addressing with linear probing over FNV-1a hashes; entries live in arrays of their own
/// (a removed entry's place is reused), so a value is changed in place with
/// ``modify(_:default:_:)`` rather than copied out and back. Inlinable, so that the replay's
/// projections get a copy specialised for their value type.
package struct BytesTable<Value> {
    /// Slots of the hash index (a power of two): 0 empty, -1 removed, otherwise entry + 1.
    @usableFromInline var slots: [Int32]
    @usableFromInline var hashes: [UInt64] = []
    @usableFromInline var keys: [[UInt8]] = []
    @usableFromInline var values: [Value?] = []
    /// Entries whose key was removed, to be reused.
    @usableFromInline var free: [Int32] = []
    @usableFromInline var removedSlots = 0
    @usableFromInline var stored = 0
    /// The number of keys.
    @inlinable package var count: Int { stored }

    @inlinable
    package init() {
        slots = [Int32](repeating: 0, count: 16)
    }

    /// The slot that holds `key`, or `nil`.
    @inlinable
    func slot(of key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: Self.mix(hash)) & mask
        while true {
            let entry = slots[index]
            if entry == 0 { return nil }
            if entry > 0 {
                let position = Int(entry) - 1
                if hashes[position] == hash && Self.equal(keys[position], key) { return index }
            }
            index = (index + 1) & mask
        }
    }

    @inlinable @inline(__always)
    static func mix(_ hash: UInt64) -> UInt64 {
        (hash ^ (hash >> 29)) &* 0xbf58_476d_1ce4_e5b9
    }

    @inlinable @inline(__always)
    static func equal(_ stored: [UInt8], _ key: UnsafeRawBufferPointer) -> Bool {
        guard stored.count == key.count else { return false }
        return stored.withUnsafeBytes { bytes in
            guard let a = bytes.baseAddress, let b = key.baseAddress else { return true }
            return memcmp(a, b, key.count) == 0
        }
    }

    @inlinable
    package subscript(_ key: UnsafeRawBufferPointer) -> Value? {
        guard count > 0, let slot = slot(of: key, hash: Bytes.fnv1a(key)) else { return nil }
        return values[Int(slots[slot]) - 1]
    }

    /// Whether the table holds `key`.
    @inlinable
    package func contains(_ key: UnsafeRawBufferPointer) -> Bool {
        count > 0 && slot(of: key, hash: Bytes.fnv1a(key)) != nil
    }

    @inlinable
    package mutating func set(_ key: UnsafeRawBufferPointer, _ value: Value) {
        modify(key, default: value) { $0 = value }
    }

    /// Calls `body` with the value of `key`, in place; a key not in the table is first added with
    /// the value `make` gives.
    @inlinable
    @discardableResult
    package mutating func modify<R>(_ key: UnsafeRawBufferPointer, default make: @autoclosure () -> Value, _ body: (inout Value) throws -> R) rethrows -> R {
        let hash = Bytes.fnv1a(key)
        let position: Int
        if let slot = slot(of: key, hash: hash) {
            position = Int(slots[slot]) - 1
        } else {
            position = insert(key, hash: hash, make())
        }
        return try body(&values[position]!)
    }

    @inlinable
    mutating func insert(_ key: UnsafeRawBufferPointer, hash: UInt64, _ value: Value) -> Int {
        if (count + removedSlots + 1) * 4 > slots.count * 3 {
            // At most half full afterwards; removed slots are cleared.
            var capacity = slots.count
            while (count + 1) * 2 > capacity { capacity *= 2 }
            rehash(capacity: capacity)
        }
        let position: Int
        if let reused = free.popLast() {
            position = Int(reused)
            hashes[position] = hash
            keys[position] = Array(key)
            values[position] = value
        } else {
            position = values.count
            hashes.append(hash)
            keys.append(Array(key))
            values.append(value)
        }
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: Self.mix(hash)) & mask
        while slots[index] > 0 { index = (index + 1) & mask }
        if slots[index] < 0 { removedSlots -= 1 }
        slots[index] = Int32(position + 1)
        stored += 1
        return position
    }

    @inlinable
    mutating func rehash(capacity: Int) {
        slots = [Int32](repeating: 0, count: max(capacity, 16))
        removedSlots = 0
        let mask = slots.count - 1
        for position in values.indices where values[position] != nil {
            var index = Int(truncatingIfNeeded: Self.mix(hashes[position])) & mask
            while slots[index] != 0 { index = (index + 1) & mask }
            slots[index] = Int32(position + 1)
        }
    }

    @inlinable
    package mutating func remove(_ key: UnsafeRawBufferPointer) {
        guard count > 0, let slot = slot(of: key, hash: Bytes.fnv1a(key)) else { return }
        let position = Int(slots[slot]) - 1
        slots[slot] = -1
        removedSlots += 1
        values[position] = nil
        keys[position] = []
        free.append(Int32(position))
        stored -= 1
    }

    @inlinable
    package mutating func removeAll() {
        slots = [Int32](repeating: 0, count: 16)
        hashes.removeAll()
        keys.removeAll()
        values.removeAll()
        free.removeAll()
        removedSlots = 0
        stored = 0
    }

    /// Calls `body` with every key and value, in no particular order.
    @inlinable
    package func forEach(_ body: (UnsafeRawBufferPointer, Value) throws -> Void) rethrows {
        for position in values.indices {
            guard let value = values[position] else { continue }
            try keys[position].withUnsafeBytes { try body($0, value) }
        }
    }
}

extension BytesTable: Sendable where Value: Sendable {}
