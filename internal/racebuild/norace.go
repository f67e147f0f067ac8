//go:build !race

// Package racebuild tells tests whether the race detector is on: it adds
// allocations (and sync.Pool drops items on purpose), so allocation tests
// skip under it and make test runs them again without it.
package racebuild

// Enabled reports whether the binary was built with -race.
const Enabled = false
