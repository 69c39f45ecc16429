//go:build race

package server

// timeFactor stretches the hostile tests' time bounds under the race
// detector, which slows the server about tenfold.
const timeFactor = 10
