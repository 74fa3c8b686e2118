import Foundation

/// A file-system error as the end of a sentence ("permission denied", "the disk is full"),
/// never Foundation's `NSCocoaErrorDomain` text: the tools print one sentence per failure.
public enum SystemErrorText {
    public static func reason(_ error: any Error) -> String {
        let error = error as NSError
        if error.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(error.code))).lowercased() }
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code))).lowercased()
        }
        guard error.domain == NSCocoaErrorDomain else { return "\(error.localizedDescription)" }
        switch CocoaError.Code(rawValue: error.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or directory"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileWriteOutOfSpace: return "the disk is full"
        case .fileWriteFileExists: return "the file exists already"
        case .fileReadTooLarge: return "the file is too large"
        case .fileWriteVolumeReadOnly: return "the file system is read-only"
        case .fileReadInvalidFileName, .fileWriteInvalidFileName: return "the file name is not valid"
        default: return "the system could not complete it (error \(error.code))"
        }
    }
}
