//go:build unix

package emulator

import (
	"errors"
	"os/exec"
	"syscall"
)

const supported = true

// setProcAttrs puts the emulator in a process group of its own, so a
// terminal's Ctrl-C does not reach it behind the harness's back and Stop
// can signal it with anything it spawned.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

// terminateGroup asks the process group led by pid to exit.
func terminateGroup(pid int) error { return signalGroup(pid, syscall.SIGTERM) }

// killGroup kills the process group led by pid.
func killGroup(pid int) error { return signalGroup(pid, syscall.SIGKILL) }

func signalGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil // already gone
	}
	return err
}
