//go:build !race

package cloudwatch

const raceEnabled = false
