package emulator

import "syscall"

// setParentDeathSignal kills the emulator if the harness's process dies
// without calling Stop (a test binary killed by its -timeout, say), so no
// emulator outlives the run that started it. Linux delivers it when the
// thread that forked the child exits; Go only ends threads whose goroutine
// locked them, and the harness never starts processes from such a
// goroutine.
func setParentDeathSignal(a *syscall.SysProcAttr) {
	a.Pdeathsig = syscall.SIGKILL
}
