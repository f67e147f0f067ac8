//go:build !unix

package emulator

import "os/exec"

// The harness relies on process groups and signals; elsewhere Start
// reports that it cannot run.
const supported = false

func setProcAttrs(*exec.Cmd)   {}
func terminateGroup(int) error { return errUnsupported }
func killGroup(int) error      { return errUnsupported }
