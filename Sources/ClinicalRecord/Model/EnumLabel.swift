import SwiftProtobuf
import Synchronization

extension SwiftProtobuf.Enum {
    /// The value as docs/EVENTS.md writes it: `SIDE_EFFECT_KIND_SEDATION` reads `sedation`.
    /// Worked out once per case (reflection is slow) and then read from a table.
    public var label: String {
        let key = EnumLabelKey(type: ObjectIdentifier(Self.self), rawValue: rawValue)
        if let known = enumLabels.withLock({ $0[key] }) { return known }
        let text = String(describing: self)
        var out = ""
        for character in text {
            if character.isUppercase {
                out += "_" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        enumLabels.withLock { $0[key] = out }
        return out
    }
}

private struct EnumLabelKey: Hashable {
    let type: ObjectIdentifier
    let rawValue: Int
}

private let enumLabels = Mutex<[EnumLabelKey: String]>([:])

extension Double {
    /// `80` for a whole number, `80.5` otherwise.
    public var plainText: String {
        self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
}
