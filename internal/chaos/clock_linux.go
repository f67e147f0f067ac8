package chaos

import (
	"syscall"
	"unsafe"
)

// clockMonotonic is Linux's CLOCK_MONOTONIC: one clock for every process
// of the host, never stepped by NTP or by hand, and running while a
// process is stopped.
const clockMonotonic = 1

// Now reads the host's monotonic clock, in nanoseconds since an arbitrary
// point shared by every process of the host. The workers stamp their
// journals with it and the driver its faults, so times taken in different
// processes compare directly; Go's own monotonic readings cannot, as each
// process counts from its own start.
func Now() int64 {
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		panic("chaos: clock_gettime(CLOCK_MONOTONIC): " + errno.Error())
	}
	return ts.Nano()
}
