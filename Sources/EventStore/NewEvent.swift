/// An event to append. The store assigns its sequence, stream version, recorded time and chain hash.
public struct NewEvent: Sendable, Hashable {
    /// Unique in the store; appending the same id again with the same content is a no-op.
    public var id: String
    /// The application's code for the event's type; the store routes on it without reading the payload.
    public var type: UInt16
    /// When it happened, in nanoseconds since 1970-01-01T00:00:00Z.
    public var occurredAt: Int64
    /// Who recorded it.
    public var actor: String
    /// Application data kept beside the payload, opaque to the store.
    public var metadata: [UInt8]
    /// The event's body, opaque to the store.
    public var payload: [UInt8]
    /// Application flag bits kept in the header: bits 0-6 (bit 7 is the store's sealed flag).
    public var flags: UInt8

    public init(
        id: String, type: UInt16, occurredAt: Int64, actor: String,
        metadata: [UInt8] = [], payload: [UInt8], flags: UInt8 = 0
    ) {
        self.id = id
        self.type = type
        self.occurredAt = occurredAt
        self.actor = actor
        self.metadata = metadata
        self.payload = payload
        self.flags = flags
    }
}

/// One stream's part of an append: its events and the version the writer expects.
public struct StreamAppend: Sendable {
    public var stream: String
    public var events: [NewEvent]
    public var expectedVersion: ExpectedVersion
    /// Entries the application keeps in its own indexes (``EventStore/Options/indexes``), written
    /// in the same transaction as the events, so an index never runs ahead of or behind the log.
    public var indexEntries: [IndexEntry]
    /// Destroys the stream's data key in the same transaction; these events are stored in the
    /// clear (see ``EventStore/destroyKey(ofStream:recording:expectedVersion:indexEntries:)``).
    var destroysKey = false

    public init(stream: String, events: [NewEvent], expectedVersion: ExpectedVersion = .any, indexEntries: [IndexEntry] = []) {
        self.stream = stream
        self.events = events
        self.expectedVersion = expectedVersion
        self.indexEntries = indexEntries
    }
}

/// A key and value in one of the application's named indexes.
public struct IndexEntry: Sendable, Hashable {
    public var index: String
    public var key: [UInt8]
    public var value: [UInt8]

    public init(index: String, key: [UInt8], value: [UInt8]) {
        self.index = index
        self.key = key
        self.value = value
    }
}

/// Where the events of one append landed.
public struct AppendResult: Sendable, Hashable {
    /// One position per event, in the order given.
    public struct Position: Sendable, Hashable {
        public let sequence: UInt64
        public let streamVersion: UInt64
        /// True when the event was already stored with the same content and was not written again.
        public let wasAlreadyStored: Bool
    }

    public let stream: String
    public let positions: [Position]
    /// The stream's wrapped data key as it was stored before a destroying append, so that its
    /// stale copies in free pages can be wiped after the commit. Never leaves the store's module.
    var destroyedKey: [UInt8]?

    init(stream: String, positions: [Position]) {
        self.stream = stream
        self.positions = positions
    }

    public static func == (lhs: AppendResult, rhs: AppendResult) -> Bool {
        lhs.stream == rhs.stream && lhs.positions == rhs.positions
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(stream)
        hasher.combine(positions)
    }

    /// The stream's version after the append.
    public var streamVersion: UInt64 { positions.map(\.streamVersion).max() ?? 0 }
    /// True when every event was already stored (a retried append).
    public var wasAlreadyStored: Bool { positions.allSatisfy(\.wasAlreadyStored) }
}
