import PatientRecordsCommands

@main
struct PatientRecordsReplay {
    static func main() {
        ReplayCommand.runMain()
    }
}
