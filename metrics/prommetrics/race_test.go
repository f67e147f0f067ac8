//go:build race

package prommetrics

const raceEnabled = true
