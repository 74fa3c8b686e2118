import ArgumentParser
import PatientRecordsCommands

@main
struct PatientRecords {
    static func main() async {
        await PatientRecordsCommand.main()
    }
}
