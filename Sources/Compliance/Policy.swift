import Foundation
import Yams

/// The clinic's thresholds for the compliance rules. The defaults are the policy the product
/// ships with (COMPLIANCE.md); a policy file may override any of them.
public struct Policy: Sendable, Codable, Hashable {
    /// Least hours between the last solid food and the dose.
    public var fastingSolidFoodHours: Double = 4
    /// Least hours between the last clear liquid and the dose.
    public var fastingClearLiquidHours: Double = 2
    /// Pre-dose systolic pressure at or above this needs an override reason (mmHg).
    public var bloodPressureSystolicLimit: Int = 140
    /// Pre-dose diastolic pressure at or above this needs an override reason (mmHg).
    public var bloodPressureDiastolicLimit: Int = 90
    /// Least monitoring after an intranasal dose started (minutes).
    public var intranasalMonitoringMinutes: Double = 120
    /// Least monitoring after an IV or IM dose started (minutes).
    public var injectionMonitoringMinutes: Double = 60
    /// Lowest Aldrete score to discharge.
    public var minimumAldreteScore: Int = 9
    /// How old a psychiatric evaluation may be at a plan's first dose (days).
    public var evaluationValidDays: Double = 365
    /// How far before a plan's first dose a baseline depression assessment may be (days).
    public var baselineAssessmentDays: Double = 30
    /// The REMS monitoring form is due this many hours after the dose started.
    public var remsFormDeadlineHours: Double = 168
    /// IV and IM ketamine dose range in mg per kg of body weight at dosing.
    public var ketamineMinMgPerKg: Double = 0.5
    public var ketamineMaxMgPerKg: Double = 1.0
    /// The esketamine doses allowed (mg).
    public var esketamineDosesMg: [Double] = [28, 56, 84]
    /// Esketamine doses not allowed at the patient's first esketamine session (mg).
    public var esketamineFirstSessionForbiddenMg: [Double] = [84]
    /// Esketamine: a blood pressure this many minutes after the dose started (both ends included).
    public var esketaminePostDoseVitalsFromMinutes: Double = 30
    public var esketaminePostDoseVitalsToMinutes: Double = 50
    /// Esketamine: a blood pressure in this many minutes up to discharge (both ends included).
    public var esketaminePreDischargeVitalsMinutes: Double = 15
    /// Days within which a high suicide risk screen must be followed by a psychiatric evaluation.
    public var suicideRiskFollowUpDays: Double = 2
    /// The window, in hours, that `max_sessions_per_week` counts doses in.
    public var sessionFrequencyWindowHours: Double = 168
    /// A session is judged once the patient's record is this many days past its dose (never
    /// before every window above has passed); entries for it recorded later are not considered.
    /// This keeps replay memory bounded by patients, however long their histories.
    public var sessionSettlingDays: Double = 14

    public init() {}

    /// Reads a policy file, JSON or YAML (a mapping of settings to numbers or lists of numbers);
    /// settings left out keep their defaults.
    ///
    /// - Throws: ``PolicyError`` naming the file, the key and the reason.
    public static func load(fromFile path: String) throws -> Policy {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyError(file: path, key: nil, reason: "cannot be read")
        }
        let text = String(decoding: data, as: UTF8.self)
        let parsed: Any?
        if text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") {
            parsed = try? JSONSerialization.jsonObject(with: data)
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

    /// The defaults with `overrides` applied; every key must be a known threshold of the right type.
    public init(overrides: [String: Any], file: String = "policy") throws {
        self.init()
        let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(self)) as? [String: Any] ?? [:]
        var merged = defaults
        for (key, value) in overrides {
            guard let current = defaults[key] else {
                throw PolicyError(file: file, key: key, reason: "is not a policy setting; the settings are \(defaults.keys.sorted().joined(separator: ", "))")
            }
            if current is [Any] {
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
    }

    /// The settings held as whole numbers (mmHg, Aldrete points).
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
