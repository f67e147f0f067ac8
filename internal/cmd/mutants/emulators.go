package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// testIn runs go test in dir as goTest does; with emulators, under
// withemulators (built from dir, so from the patched copy), with the
// checkout's npm packages (SHARDWISE_ROOT) and the emulators' logs in
// dir/.emulators.
func testIn(dir string, pkgs []string, runRe string, timeout time.Duration, emulators bool) testResult {
	if !emulators {
		return goTest(dir, pkgs, runRe, timeout)
	}
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return testResult{err: fmt.Errorf("finding the checkout (for its emulators' npm packages): %w", err)}
	}
	root := strings.TrimSpace(string(out))
	ctx, cancel := context.WithTimeout(context.Background(), timeout+3*time.Minute)
	defer cancel()
	args := []string{"run", "./internal/emulator/cmd/withemulators", "-logs", filepath.Join(dir, ".emulators"), "--",
		goCmd(), "test", "-count=1", "-timeout", timeout.String(), "-run", runRe}
	cmd := exec.CommandContext(ctx, goCmd(), append(args, pkgs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "SHARDWISE_ROOT="+root)
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	cmd.WaitDelay = 10 * time.Second
	started := time.Now()
	err = cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("go test under withemulators did not end within %v: %w", timeout+3*time.Minute, err)
	}
	return testResult{output: buf.String(), took: time.Since(started), err: err}
}
