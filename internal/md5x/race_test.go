//go:build race

package md5x

const raceEnabled = true
