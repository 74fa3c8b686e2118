import EventStore

/// This release of the record store, as the tools' `--version` prints it.
public enum Release {
    /// The release's version (semantic versioning; see CHANGELOG.md).
    public static let version = "0.2.0"

    /// `0.2.0 (store format 2)`: the release and the store format it writes.
    public static var description: String { "\(version) (store format \(EventStore.currentFormatVersion))" }
}
