//go:build !race

package prommetrics

const raceEnabled = false
