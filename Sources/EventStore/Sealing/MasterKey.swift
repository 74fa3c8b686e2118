import Crypto
import Foundation

/// The key that wraps every stream's data key. It is never written into the store: it lives in a
/// key file outside the store directory, or only in the caller's memory.
// @unchecked: SymmetricKey is an immutable value that swift-crypto 3.12 does not mark Sendable.
public struct MasterKey: @unchecked Sendable {
    let key: SymmetricKey

    /// A master key from its 32 bytes.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else {
            throw EventStoreError.invalidMasterKey(source: "the given bytes", reason: "a master key is 32 bytes, not \(bytes.count)")
        }
        key = SymmetricKey(data: bytes)
    }

    /// A new random master key.
    public static func generate() -> MasterKey {
        MasterKey(key: SymmetricKey(size: .bits256))
    }

    private init(key: SymmetricKey) { self.key = key }

    /// A master key from its text form: 64 hexadecimal digits (surrounding white space ignored).
    public init(hex text: String, source: String) throws {
        let digits = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard digits.count == 64 else {
            throw EventStoreError.invalidMasterKey(source: source, reason: "it should hold 64 hexadecimal digits and holds \(digits.count) characters")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for index in stride(from: 0, to: 64, by: 2) {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else {
                throw EventStoreError.invalidMasterKey(source: source, reason: "it holds a character that is not a hexadecimal digit")
            }
            bytes.append(high << 4 | low)
        }
        try self.init(bytes: bytes)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The text form written to key files.
    var hex: String { key.withUnsafeBytes { Bytes.hex($0) } }

    /// Reads the key file at `path`. Refuses a file other users can read.
    public static func read(fromFile path: String) throws -> MasterKey {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw EventStoreError.masterKeyMissing(keyFile: path)
        }
        if status.st_mode & 0o077 != 0 {
            throw EventStoreError.keyFileExposed(path: path, mode: UInt32(status.st_mode & 0o7777))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EventStoreError.permissionDenied(path: path)
        }
        return try MasterKey(hex: String(decoding: data, as: UTF8.self), source: "the key file \(path)")
    }

    /// Writes this key to a new file at `path`, readable by its owner only, creating its
    /// directory (0700) when needed, and syncs the file and its directory, so that once this
    /// returns the key survives a crash. Refuses to replace an existing file.
    public func write(toFile path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw EventStoreError.keyFileNotWritten(path: path, reason: SystemErrorText.reason(error))
            }
        }
        let descriptor = Foundation.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw EventStoreError.keyFileNotWritten(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        let text = Array((hex + "\n").utf8)
        let written = text.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        guard written == text.count, fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw EventStoreError.keyFileNotWritten(path: path, reason: reason)
        }
        // The file's name lives in its directory: sync that too.
        let parent = Foundation.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if parent >= 0 {
            defer { close(parent) }
            guard fsync(parent) == 0 else {
                throw EventStoreError.keyFileNotWritten(path: path, reason: "its directory could not be synced (\(String(cString: strerror(errno))))")
            }
        }
    }

    /// What `meta` keeps to tell this key from another without revealing it. From format 2 on
    /// it covers the format version too, so that a store cannot be passed off as an older format
    /// (one without a sealed head) by someone without the key.
    func checkValue(storeId: [UInt8], format: UInt32) -> [UInt8] {
        var mac = HMAC<SHA256>(key: key)
        mac.update(data: Array("event-store master key check".utf8))
        mac.update(data: storeId)
        if format >= 2 { mac.update(data: withUnsafeBytes(of: format.bigEndian) { Array($0) }) }
        return Array(mac.finalize())
    }
}

/// Where a store's master key comes from.
public enum MasterKeySource: Sendable {
    /// The file `<directory>/<store id>.key`; a new store writes a new key there.
    case directory(String)
    /// This key file; a new store writes a new key there when the file does not exist yet, and
    /// uses the key in it when it does (one key may serve several stores).
    case file(String)
    /// This key, held by the caller.
    case key(MasterKey)

    /// The key file a new store is given, when its key lives in a file.
    func keyFile(storeId: String) -> String? {
        switch self {
        case .directory(let directory): (directory as NSString).appendingPathComponent(storeId + ".key")
        case .file(let path): path
        case .key: nil
        }
    }
}
