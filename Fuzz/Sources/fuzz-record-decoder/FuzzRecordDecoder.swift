import ClinicalRecord
import FuzzDriver
@_spi(RawRecords) import EventStore

/// One fuzz input as a stored record: read as it is, then with its length fields repaired so
/// that the fuzzer also reaches the decoder behind the header checks. Nothing may crash; a
/// damaged record must be refused or reported unreadable.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecordDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    read(input)
    guard size >= EventRecordLayout.headerSize else { return 0 }
    var repaired = Array(input)
    // Split the bytes after the header among id, stream, actor, metadata and payload using the
    // input's own length bytes as proportions, so the lengths always add up.
    var rest = size - EventRecordLayout.headerSize
    for (offset, width) in [(4, 2), (6, 2), (8, 2), (10, 2)] {
        let wanted = Int(repaired[offset]) | Int(repaired[offset + 1]) << 8
        let length = rest == 0 ? 0 : min(rest, wanted % (rest + 1))
        repaired[offset] = UInt8(length & 0xff)
        repaired[offset + 1] = UInt8(length >> 8)
        rest -= length
        _ = width
    }
    withUnsafeBytes(of: UInt32(rest).littleEndian) { for index in 0..<4 { repaired[12 + index] = $0[index] } }
    repaired[0] = EventRecordLayout.formatVersion
    repaired.withUnsafeBytes { read($0) }
    return 0
}

private func read(_ bytes: UnsafeRawBufferPointer) {
    guard let record = EventRecordView(sequence: 1, bytes: bytes) else { return }
    _ = record.header
    _ = record.event
    _ = record.hasSameContent(as: NewEvent(id: "e", type: record.type, occurredAt: 0, actor: "a", payload: []), stream: "s")
    if let event = try? PatientRecordStore.decode(record) {
        _ = event.chainHash
        _ = try? CloudEventCodec.encode(event)
    }
}

/// SwiftPM links an executable's `main` to `fuzz_record_decoder_main`; defining it here hands the process to
/// libFuzzer's driver (and keeps libFuzzer's own `main` out of the link).
@_cdecl("fuzz_record_decoder_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Int32 {
    runFuzzer(argc, argv, fuzzRecordDecoder)
}
