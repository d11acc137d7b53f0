// Preloaded (node --import) into peers that have no SIGTERM handler (Portkey) when profiling, so that a SIGTERM
// ends the process through process.exit() and `--cpu-prof` gets to write its profile.
process.once('SIGTERM', () => process.exit(0));
process.once('SIGINT', () => process.exit(0));
