import ClinicalRecord
import Foundation
import Yams

/// The clinic's thresholds and lists for the compliance rules, and which rules apply from when.
/// The defaults are the policy the product ships with (docs/COMPLIANCE.md lists each key); a
/// policy file may override any of them and switch any rule off.
public struct Policy: Sendable, Codable, Hashable {
    // Before the dose.
    /// Least hours between the last solid food and the dose.
    public var fastingSolidFoodHours: Double = 4
    /// Least hours between the last clear liquid and the dose.
    public var fastingClearLiquidHours: Double = 2
    /// Pre-dose systolic pressure at or above this needs an override reason (mmHg).
    public var bloodPressureSystolicLimit: Int = 140
    /// Pre-dose diastolic pressure at or above this needs an override reason (mmHg).
    public var bloodPressureDiastolicLimit: Int = 90
    /// How old a psychiatric evaluation may be at a plan's first dose (days).
    public var evaluationValidDays: Double = 365
    /// How far before a plan's first dose a baseline depression assessment may be (days).
    public var baselineAssessmentDays: Double = 30
    /// The youngest age, in whole years on the dose's date, a patient may be dosed at.
    public var minimumAgeYears: Int = 18
    /// Medication classes that interact with ketamine (docs/EVENTS.md class names).
    public var interactingMedicationClasses: [String] = ["maoi", "psychostimulant", "benzodiazepine", "sedative_hypnotic", "opioid"]

    // The dose.
    /// IV and IM ketamine dose range in mg per kg of body weight at dosing.
    public var ketamineMinMgPerKg: Double = 0.5
    public var ketamineMaxMgPerKg: Double = 1.0
    /// The esketamine doses allowed (mg).
    public var esketamineDosesMg: [Double] = [28, 56, 84]
    /// Esketamine doses not allowed at the patient's first esketamine session (mg), unless the
    /// plan's indication is `mdsi`.
    public var esketamineFirstSessionForbiddenMg: [Double] = [84]
    /// Milligrams of esketamine in one nasal device.
    public var esketamineDeviceMg: Double = 28
    /// How far nasal ketamine may be from its plan's `dose_mg`, as a fraction (0.1 is 10%).
    public var nasalKetamineDoseTolerance: Double = 0.10
    /// The shortest IV ketamine infusion (minutes).
    public var minimumInfusionMinutes: Double = 40

    // After the dose.
    /// Esketamine: a blood pressure this many minutes after the dose started (both ends included).
    public var esketaminePostDoseVitalsFromMinutes: Double = 30
    public var esketaminePostDoseVitalsToMinutes: Double = 50
    /// Esketamine: a blood pressure in this many minutes up to discharge (both ends included).
    public var esketaminePreDischargeVitalsMinutes: Double = 15
    /// A post-dose reading at or above these pressures, below this SpO2 or respiratory rate, or
    /// with a MOAA/S at or below this, needs a side effect of the matching kind on record.
    public var postDoseAlertSystolic: Int = 180
    public var postDoseAlertDiastolic: Int = 110
    public var postDoseAlertSpo2Below: Int = 90
    public var postDoseAlertRespiratoryRateBelow: Int = 8
    public var postDoseAlertMoaasAtMost: Int = 1

    // Discharge.
    /// Least monitoring after an intranasal dose started (minutes).
    public var intranasalMonitoringMinutes: Double = 120
    /// Least monitoring after an IM dose started (minutes).
    public var injectionMonitoringMinutes: Double = 60
    /// Least monitoring after an IV infusion ended (`started_at` plus `infusion_minutes`).
    public var infusionMonitoringMinutes: Double = 60
    /// A vitals reading must be taken this many minutes before discharge at most.
    public var dischargeVitalsWithinMinutes: Double = 30
    /// The last reading before discharge must be under these pressures, at or above this SpO2,
    /// and (when it has one) a MOAA/S of at least this.
    public var dischargeSystolicLimit: Int = 160
    public var dischargeDiastolicLimit: Int = 100
    public var dischargeSpo2Below: Int = 94
    public var dischargeMoaasBelow: Int = 5
    /// Side effects of a session that block its discharge until resolved (docs/EVENTS.md kinds).
    public var dischargeBlockingSideEffects: [String] = [
        "sedation", "dissociation", "respiratory_depression", "fainting", "hypertension", "dizziness", "vertigo",
    ]
    /// Lowest Aldrete score to discharge.
    public var minimumAldreteScore: Int = 9

    // REMS, frequency, follow-up.
    /// The REMS monitoring form is due this many hours after the dose started.
    public var remsFormDeadlineHours: Double = 168
    /// The window, in hours, that `max_sessions_per_week` counts doses in.
    public var sessionFrequencyWindowHours: Double = 168
    /// Every this many doses of a plan need a depression assessment near them.
    public var measurementBasedCareEvery: Int = 3
    /// How far before or after such a dose the assessment may be (days).
    public var measurementBasedCareWindowDays: Double = 7
    /// Days within which a suicide risk flag must be followed by a psychiatric evaluation.
    public var suicideRiskFollowUpDays: Double = 2
    /// What flags suicide risk: PHQ-9 item 9 above this, MADRS item 10 and QIDS-SR16 item 12 at
    /// or above these, a C-SSRS screener of one of these risk levels.
    public var suicideRiskPhq9Item9Above: Int = 0
    public var suicideRiskMadrsItem10AtLeast: Int = 4
    public var suicideRiskQidsItem12AtLeast: Int = 2
    public var suicideRiskCssrsLevels: [String] = ["moderate", "high"]
    /// C-SSRS screener risk levels that stop dosing until a psychiatric evaluation.
    public var riskEvaluationCssrsLevels: [String] = ["high"]

    /// A session is judged once the patient's record is this many days past its dose (never
    /// before every window above has passed); entries for it recorded later are not considered.
    /// This keeps replay memory bounded by patients, however long their histories.
    public var sessionSettlingDays: Double = 14

    /// Per rule (by its name, e.g. `prescriber-on-site`): switched off, or judged only for what
    /// happened from a time on. Rules not named apply to everything.
    public var rules: [String: RuleSetting] = [:]

    public struct RuleSetting: Sendable, Codable, Hashable {
        /// `false` switches the rule off.
        public var enabled: Bool?
        /// RFC 3339: doses (or assessments, wastes) before it are not judged by the rule.
        public var effectiveFrom: String?

        public init(enabled: Bool? = nil, effectiveFrom: String? = nil) {
            self.enabled = enabled
            self.effectiveFrom = effectiveFrom
        }
    }

    public init() {}

    /// Whether `rule` is judged at all.
    public func enables(_ rule: Rule) -> Bool { rules[rule.rawValue]?.enabled ?? true }

    /// The time from which `rule` judges (ns since 1970), or `.min`.
    public func effectiveFrom(_ rule: Rule) -> Int64 {
        rules[rule.rawValue]?.effectiveFrom.flatMap(ClinicalTime.parse) ?? .min
    }

    /// The policy for stores recorded before the v1.1 fields: `prescriber-on-site` and
    /// `off-label-consent` need fields those stores never had, so they are switched off.
    public static var beforeV11: Policy {
        var policy = Policy()
        policy.rules[Rule.prescriberOnSite.rawValue] = RuleSetting(enabled: false)
        policy.rules[Rule.offLabelConsent.rawValue] = RuleSetting(enabled: false)
        return policy
    }

    // MARK: Reading a policy file

    /// Reads a policy file, JSON or YAML (a mapping of settings to numbers or lists, and
    /// `rules:` mapping rule names to `enabled` and `effectiveFrom`); settings left out keep
    /// their defaults.
    ///
    /// - Throws: ``PolicyError`` naming the file, the key and the reason.
    public static func load(fromFile path: String) throws -> Policy {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyError(file: path, key: nil, reason: "cannot be read")
        }
        let text = String(decoding: data, as: UTF8.self)
        let parsed: Any?
        if text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") {
            do {
                parsed = try JSONSerialization.jsonObject(with: data)
            } catch {
                throw PolicyError(file: path, key: nil, reason: "is not valid JSON")
            }
        } else {
            do {
                parsed = try Yams.load(yaml: text)
            } catch {
                throw PolicyError(file: path, key: nil, reason: "is not valid YAML or JSON (\(String(describing: error).split(separator: "\n").first ?? ""))")
            }
        }
        guard let object = parsed.map(normalized) as? [String: Any] else {
            throw PolicyError(file: path, key: nil, reason: "is not a mapping of policy settings to values")
        }
        return try Policy(overrides: object, file: path)
    }

    /// YAML numbers arrive as Int or Double, JSON numbers as NSNumber: make them all NSNumber.
    private static func normalized(_ value: Any) -> Any {
        switch value {
        case let value as Bool: return value
        case let value as Int: return NSNumber(value: value)
        case let value as Double: return NSNumber(value: value)
        case let value as [Any]: return value.map(normalized)
        case let value as [String: Any]: return value.mapValues(normalized)
        default: return value
        }
    }

    /// The allowed words of the lists of words.
    static let vocabulary: [String: [String]] = [
        "interactingMedicationClasses": Ketamine_V1_MedicationClass.allCases.filter { $0 != .unspecified }.map(\.label),
        "dischargeBlockingSideEffects": Ketamine_V1_SideEffectKind.allCases.filter { $0 != .unspecified }.map(\.label),
        "suicideRiskCssrsLevels": ["low", "moderate", "high"],
        "riskEvaluationCssrsLevels": ["low", "moderate", "high"],
    ]

    /// The defaults with `overrides` applied; every key must be a known setting of the right type.
    public init(overrides: [String: Any], file: String = "policy") throws {
        self.init()
        let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as? [String: Any] ?? [:]
        var merged = defaults
        for (key, value) in overrides {
            guard let current = defaults[key] else {
                throw PolicyError(file: file, key: key, reason: "is not a policy setting; the settings are \(defaults.keys.sorted().joined(separator: ", "))")
            }
            if key == "rules" {
                merged[key] = try Self.ruleSettings(value, file: file)
            } else if let words = Self.vocabulary[key] {
                guard let list = value as? [String] else { throw PolicyError(file: file, key: key, reason: "must be a list of words") }
                if let unknown = list.first(where: { !words.contains($0) }) {
                    throw PolicyError(file: file, key: key, reason: "holds \(unknown.debugDescription); the words are \(words.joined(separator: ", "))")
                }
                merged[key] = list
            } else if current is [Any] {
                guard let list = value as? [Any], list.allSatisfy({ $0 is NSNumber && !($0 is Bool) }) else {
                    throw PolicyError(file: file, key: key, reason: "must be a list of numbers")
                }
                merged[key] = list
            } else {
                guard let number = value as? NSNumber, Swift.type(of: value) != Bool.self, number.doubleValue.isFinite, number.doubleValue >= 0 else {
                    throw PolicyError(file: file, key: key, reason: "must be a number, 0 or more")
                }
                if Self.wholeNumberKeys.contains(key) && number.doubleValue != number.doubleValue.rounded() {
                    throw PolicyError(file: file, key: key, reason: "must be a whole number")
                }
                merged[key] = number
            }
        }
        let data = try JSONSerialization.data(withJSONObject: merged)
        do {
            self = try JSONDecoder().decode(Policy.self, from: data)
        } catch let DecodingError.dataCorrupted(context), let DecodingError.typeMismatch(_, context) {
            throw PolicyError(file: file, key: context.codingPath.first?.stringValue, reason: "must be a whole number")
        }
        if ketamineMinMgPerKg > ketamineMaxMgPerKg {
            throw PolicyError(file: file, key: "ketamineMinMgPerKg", reason: "must not be above ketamineMaxMgPerKg")
        }
        if esketaminePostDoseVitalsFromMinutes > esketaminePostDoseVitalsToMinutes {
            throw PolicyError(file: file, key: "esketaminePostDoseVitalsFromMinutes", reason: "must not be above esketaminePostDoseVitalsToMinutes")
        }
        if measurementBasedCareEvery < 1 {
            throw PolicyError(file: file, key: "measurementBasedCareEvery", reason: "must be 1 or more")
        }
    }

    private static func ruleSettings(_ value: Any, file: String) throws -> [String: Any] {
        guard let rules = value as? [String: Any] else {
            throw PolicyError(file: file, key: "rules", reason: "must map rule names to settings (enabled, effectiveFrom)")
        }
        var out: [String: Any] = [:]
        for (name, setting) in rules {
            guard Rule(rawValue: name) != nil, name != Rule.integrity.rawValue else {
                throw PolicyError(file: file, key: "rules.\(name)", reason: "is not a rule; the rules are \(Rule.allCases.filter { $0 != .integrity }.map(\.rawValue).joined(separator: ", "))")
            }
            guard let fields = setting as? [String: Any] else {
                throw PolicyError(file: file, key: "rules.\(name)", reason: "must be a mapping with enabled and/or effectiveFrom")
            }
            var checked: [String: Any] = [:]
            for (field, value) in fields {
                switch field {
                case "enabled":
                    guard let flag = value as? Bool else { throw PolicyError(file: file, key: "rules.\(name).enabled", reason: "must be true or false") }
                    checked[field] = flag
                case "effectiveFrom":
                    guard let text = value as? String, ClinicalTime.parse(text) != nil else {
                        throw PolicyError(file: file, key: "rules.\(name).effectiveFrom", reason: "must be an RFC 3339 time such as 2026-03-01T00:00:00Z")
                    }
                    checked[field] = text
                default:
                    throw PolicyError(file: file, key: "rules.\(name).\(field)", reason: "is not a rule setting; the settings are enabled and effectiveFrom")
                }
            }
            out[name] = checked
        }
        return out
    }

    /// The settings held as whole numbers (mmHg, points, years, counts).
    static let wholeNumberKeys: Set<String> = Set(Mirror(reflecting: Policy()).children.compactMap { child in
        child.value is Int ? child.label : nil
    })
}

/// A policy file that cannot be used: which file, which key, and why.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let key: String?
    public let reason: String

    public var description: String {
        "The policy file \(file)" + (key.map { ": \($0) " } ?? " ") + reason + "."
    }
}
