// A helper process for the EventStore tests: it appends, reads and gets killed for real.
//
//   event-store-probe append-forever STORE ACKFILE THREADS BATCH
//       appends batches to per-thread streams until killed; after each durable append it writes
//       "<first-id> <count>" to ACKFILE. A refused append is not acknowledged; the thread stops
//       appending and the process stays up, as a service would.
//   event-store-probe append STORE STREAM PREFIX COUNT THREADS
//       appends COUNT single-event batches from THREADS threads, then exits 0.
//   event-store-probe open STORE
//       opens the store read-write and exits 0, or prints the error and exits 1.
import EventStore
import Foundation

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

func payload(_ id: String) -> [UInt8] { Array("payload of \(id)".utf8) }

let arguments = CommandLine.arguments
guard arguments.count >= 3 else { fail("usage: event-store-probe append-forever|append|open STORE …") }
let store: EventStore
do {
    store = try EventStore.open(at: arguments[2])
} catch {
    fail("\(error)")
}

switch arguments[1] {
case "open":
    exit(0)

case "append-forever":
    guard arguments.count == 6, let threads = Int(arguments[4]), let batch = Int(arguments[5]) else { fail("bad arguments") }
    guard let ack = FileHandle(forWritingAtPath: arguments[3]) else { fail("cannot open \(arguments[3])") }
    // Earlier probes' acknowledgements stay: this one appends after them.
    _ = try? ack.seekToEnd()
    let ackLock = NSLock()
    let pid = getpid()
    for thread in 0..<threads {
        Thread {
            var round = 0
            while true {
                round += 1
                let ids = (0..<batch).map { "\(pid)-\(thread)-\(round)-\($0)" }
                let events = ids.map { NewEvent(id: $0, type: 1, occurredAt: 0, actor: "probe", payload: payload($0)) }
                do {
                    try store.appendAndWait(events, to: "stream-\(pid)-\(thread)")
                } catch {
                    FileHandle.standardError.write(Data("append refused: \(error)\n".utf8))
                    while true { sleep(60) }
                }
                ackLock.lock()
                ack.write(Data("\(ids[0]) \(batch)\n".utf8))
                ackLock.unlock()
            }
        }.start()
    }
    while true { sleep(60) }

case "append":
    guard arguments.count == 7, let count = Int(arguments[5]), let threads = Int(arguments[6]) else { fail("bad arguments") }
    let stream = arguments[3], prefix = arguments[4]
    DispatchQueue.concurrentPerform(iterations: threads) { thread in
        for index in stride(from: thread, to: count, by: threads) {
            let id = "\(prefix)-\(index)"
            do {
                try store.appendAndWait([NewEvent(id: id, type: 2, occurredAt: Int64(index), actor: prefix, payload: payload(id))], to: stream)
            } catch {
                fail("append of \(id) failed: \(error)")
            }
        }
    }
    store.close()
    exit(0)

default:
    fail("unknown command \(arguments[1])")
}
