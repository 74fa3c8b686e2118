/// Why an event was refused: the line (for a file), the attribute or field, and the reason.
/// Nothing is written when an append or import is refused.
public struct EventValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 1-based line of the input file, when the event came from one.
    public var line: Int?
    /// The attribute (`actorrole`) or field (`data.doseMg`) at fault.
    public var field: String
    /// What is wrong, as a sentence fragment a clinician or engineer can act on.
    public var reason: String

    public init(line: Int? = nil, field: String, reason: String) {
        self.line = line
        self.field = field
        self.reason = reason
    }

    /// The refusal of anything more for a forgotten patient.
    static func forgotten(_ patientId: String) -> EventValidationError {
        EventValidationError(field: "subject", reason: "patient \(patientId) was forgotten (their data key was destroyed); nothing more can be recorded for them")
    }

    public var description: String {
        (line.map { "line \($0): " } ?? "") + "\(field): \(reason)"
    }

    func at(line: Int?) -> EventValidationError {
        var copy = self
        copy.line = line
        return copy
    }
}
