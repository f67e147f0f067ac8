//go:build race

package cloudwatch

const raceEnabled = true
