// Package leakcheck fails a test binary whose Shardwise goroutines outlive
// its tests: every goroutine must have an owner that stops it and waits
// for it.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests, then waits up to grace for every goroutine running
// Shardwise code to end, and fails the binary (exit code 1) with their
// stacks if some do not.
func Main(m *testing.M, grace time.Duration) {
	code := m.Run()
	if code == 0 {
		if leaked := Wait(grace); leaked != "" {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines still running after the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// Wait polls until no goroutine other than the caller runs Shardwise code,
// or grace passes; it returns the stacks of those left.
func Wait(grace time.Duration) string {
	deadline := time.Now().Add(grace)
	for {
		leaked := Leaked()
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Leaked returns the stacks of goroutines (other than the caller's) with a
// frame in a Shardwise package.
func Leaked() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the calling goroutine
		}
		if strings.Contains(g, "github.com/shardwise/shardwise/") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
