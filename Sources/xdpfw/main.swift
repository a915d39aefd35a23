// The entry point: parse the command line, run the verb, and turn every outcome into an exit
// status scripts can trust (0 ok, 1 error, 2 usage).
XDPFW.runAndExit()
