//go:build !race

package mscope

const raceEnabled = false
