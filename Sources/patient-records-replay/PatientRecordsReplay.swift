import PatientRecordsCommands

/// Exit status as docs/COMPLIANCE.md says: 0 no error finding, 1 an error finding (thrown by the
/// command as its exit code), 2 the record could not be checked.
@main
struct PatientRecordsReplay {
    static func main() async {
        await CommandRunner.main(ReplayCommand.self, failure: 2)
    }
}
