//go:build !race

package fastdecode

// raceEnabled: the race detector changes how much some code allocates.
const raceEnabled = false
