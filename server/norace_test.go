//go:build !race

package server

// timeFactor stretches the hostile tests' time bounds (1 without the race
// detector).
const timeFactor = 1
