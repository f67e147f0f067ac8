//go:build race

package otelmetrics

const raceEnabled = true
