import EventStore
import Foundation
import TestSupport
import Testing

struct VerifyTests {
    @Test func anIntactLogVerifies() async throws {
        try await withStore { store, _ async throws in
            for index in 0..<50 { try await store.append([event("v\(index)")], to: "S\(index % 4)") }
            let report = try store.verify()
            #expect(report.isIntact)
            #expect(report.eventsVerified == 50)
        }
    }

    @Test func eachChainHashCoversThePreviousOne() async throws {
        try await withStore { store, _ async throws in
            try await store.append([event("h1"), event("h2")], to: "S")
            let events = try store.events()
            #expect(events[0].chainHash.count == 32)
            #expect(events[0].chainHash != events[1].chainHash)
            #expect(events[1].chainHashHex.count == 64)
        }
    }

    @Test func aFlippedPayloadByteIsFoundAtItsSequence() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            do {
                let store = try EventStore.open(at: path)
                for index in 0..<10 { try await store.append([event("f\(index)")], to: "S") }
                store.close()
            }
            // Damage record 7 underneath the store: one byte of its payload (its last byte).
            try damageRecord(7, inStoreAt: path) { $0[$0.count - 1] ^= 0x01 }
            let store = try EventStore.open(at: path, options: .init(readOnly: true))
            let report = try store.verify()
            #expect(report.firstBadSequence == 7)
            #expect(report.eventsVerified == 6)
            #expect(report.problem?.contains("chain hash") == true)
        }
    }

    @Test func aRecordWhoseHeaderLiesAboutItsLengthIsReportedNotRead() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/store"
            do {
                let store = try EventStore.open(at: path)
                for index in 0..<3 { try await store.append([event("l\(index)")], to: "S") }
                store.close()
            }
            try damageRecord(2, inStoreAt: path) { $0[12] = 0xff } // payload length
            let store = try EventStore.open(at: path, options: .init(readOnly: true))
            #expect(try store.verify().firstBadSequence == 2)
            #expect(throws: EventStoreError.corruptRecord(sequence: 2, reason: "its header does not match its length")) {
                try store.events()
            }
        }
    }
}
