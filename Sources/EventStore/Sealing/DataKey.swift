import COpenSSL
import Crypto
import Foundation

/// One stream's data key, with an AES-256-GCM context kept for it and reused for every payload
/// and projection value sealed under it.
///
/// The format is the one every sealed payload of the store has always had (`nonce (12) ‖
/// ciphertext ‖ tag (16)`, AES-256-GCM), so stores sealed with swift-crypto open unchanged: what
/// changes is the cost. swift-crypto sets up a new AEAD context (key schedule and GHASH tables)
/// on every call, 1.5-2 µs a payload here; OpenSSL's EVP context is set up once per key and then
/// takes a new nonce per payload. swift-crypto still wraps the data keys under the master key
/// and derives the head seal's key.
///
/// Not thread-safe: each reader, replay worker and write session has its own.
final class DataKey {
    let key: SymmetricKey
    private var decrypt: OpaquePointer?
    private var encrypt: OpaquePointer?

    static let nonceSize = 12
    static let tagSize = 16

    init(_ key: SymmetricKey) {
        self.key = key
    }

    deinit {
        if let decrypt { EVP_CIPHER_CTX_free(decrypt) }
        if let encrypt { EVP_CIPHER_CTX_free(encrypt) }
    }

    private func context(decrypting: Bool) -> OpaquePointer? {
        if let existing = decrypting ? decrypt : encrypt { return existing }
        guard let context = EVP_CIPHER_CTX_new() else { return nil }
        let ready = key.withUnsafeBytes { raw -> Bool in
            let bytes = raw.bindMemory(to: UInt8.self).baseAddress
            if decrypting {
                return EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1
                    && copenssl_gcm_set_ivlen(context, Int32(Self.nonceSize)) == 1
                    && EVP_DecryptInit_ex(context, nil, nil, bytes, nil) == 1
            }
            return EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1
                && copenssl_gcm_set_ivlen(context, Int32(Self.nonceSize)) == 1
                && EVP_EncryptInit_ex(context, nil, nil, bytes, nil) == 1
        }
        guard ready else {
            EVP_CIPHER_CTX_free(context)
            return nil
        }
        if decrypting { decrypt = context } else { encrypt = context }
        return context
    }

    /// Opens `sealed` (nonce, ciphertext, tag) authenticated with `aad` into `output`, which must
    /// hold at least `sealed.count - 28` bytes. Returns the plaintext's length, or `nil` when it
    /// does not open (changed bytes, another key, another event).
    func open(_ sealed: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        let length = sealed.count - Self.nonceSize - Self.tagSize
        guard length >= 0, output.count >= length, let context = context(decrypting: true),
              let base = sealed.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var produced: Int32 = 0
        let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        guard EVP_DecryptInit_ex(context, nil, nil, nil, base) == 1 else { return nil }
        if aad.count > 0 {
            guard EVP_DecryptUpdate(context, nil, &produced, aad.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(aad.count)) == 1 else { return nil }
        }
        var written = 0
        if length > 0 {
            guard EVP_DecryptUpdate(context, out, &produced, base + Self.nonceSize, Int32(length)) == 1 else { return nil }
            written = Int(produced)
        }
        var tag = [UInt8](UnsafeRawBufferPointer(rebasing: sealed[(sealed.count - Self.tagSize)...]))
        guard copenssl_gcm_set_tag(context, Int32(Self.tagSize), &tag) == 1 else { return nil }
        var final: Int32 = 0
        // A scratch byte for the final call when there is no output buffer to point into.
        var spare: UInt8 = 0
        let tail = out.map { $0 + written } ?? withUnsafeMutablePointer(to: &spare) { $0 }
        guard EVP_DecryptFinal_ex(context, tail, &final) == 1 else { return nil }
        return written + Int(final)
    }

    /// Seals `plaintext` with a fresh random nonce, authenticated with `aad`.
    func seal(_ plaintext: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        guard let context = context(decrypting: false) else { throw EventStoreError.cryptography("OpenSSL could not set up AES-256-GCM") }
        var out = [UInt8](repeating: 0, count: Self.nonceSize + plaintext.count + Self.tagSize)
        let sealed = out.withUnsafeMutableBufferPointer { buffer -> Bool in
            guard let base = buffer.baseAddress, RAND_bytes(base, Int32(Self.nonceSize)) == 1,
                  EVP_EncryptInit_ex(context, nil, nil, nil, base) == 1 else { return false }
            var produced: Int32 = 0
            if !aad.isEmpty {
                guard EVP_EncryptUpdate(context, nil, &produced, aad, Int32(aad.count)) == 1 else { return false }
            }
            if !plaintext.isEmpty {
                guard EVP_EncryptUpdate(context, base + Self.nonceSize, &produced, plaintext, Int32(plaintext.count)) == 1 else { return false }
            }
            var final: Int32 = 0
            guard EVP_EncryptFinal_ex(context, base + Self.nonceSize + plaintext.count, &final) == 1 else { return false }
            return copenssl_gcm_get_tag(context, Int32(Self.tagSize), base + Self.nonceSize + plaintext.count) == 1
        }
        guard sealed else { throw EventStoreError.cryptography("OpenSSL could not seal a payload") }
        return out
    }
}
