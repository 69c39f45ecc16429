//go:build race

package persist

// raceEnabled: the race detector's runtime cannot always unwind the panic
// that a memory fault on a damaged file's mapping raises (SetPanicOnFault):
// it aborts the process with "traceback did not unwind completely".
const raceEnabled = true
