import RosterCLI
rosterMain()
