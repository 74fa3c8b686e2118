import PatientRecordsCommands

@main
struct PatientRecords {
    static func main() async {
        await CommandRunner.main(PatientRecordsCommand.self)
    }
}
