import Foundation
import Synchronization

/// Long synchronous work (an import, a replay, a snapshot refresh, a backup) run for an async
/// caller on a thread of its own, so that it neither holds a thread of the cooperative pool for
/// its whole length nor ignores the caller's cancellation.
///
/// The work looks at ``checkCancellation()`` at its progress points (every 16,384 records of a
/// replay, every 1,024 lines of an import);
/// when the calling task is cancelled it throws `CancellationError` there, and what it was
/// writing is rolled back with its transaction.
package enum LongWork {
    private final class Flag: Sendable {
        let cancelled = Atomic<Bool>(false)
    }

    /// The flag of the work running on the current thread, if it runs under ``run(_:_:)``.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Runs `work` on a new thread named `name` and returns its result; cancelling the calling
    /// task makes the work's next ``checkCancellation()`` throw.
    package static func run<R: Sendable>(_ name: String, _ work: @escaping @Sendable () throws -> R) async throws -> R {
        try Task.checkCancellation()
        let flag = Flag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
                let thread = Thread {
                    // The thread's closure holds `flag`, so the unretained pointer stays valid.
                    pthread_setspecific(key, Unmanaged.passUnretained(flag).toOpaque())
                    let result = Result { try work() }
                    pthread_setspecific(key, nil)
                    continuation.resume(with: result)
                }
                thread.name = name
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onCancel: {
            flag.cancelled.store(true, ordering: .releasing)
        }
    }

    /// Throws `CancellationError` when the work on this thread runs for a task that was
    /// cancelled; does nothing for synchronous callers.
    package static func checkCancellation() throws {
        guard let raw = pthread_getspecific(key) else { return }
        if Unmanaged<Flag>.fromOpaque(raw).takeUnretainedValue().cancelled.load(ordering: .acquiring) {
            throw CancellationError()
        }
    }
}
