//go:build unix

package bans

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time, user and system, that the process has used:
// on a shared machine it says more of a benchmark's cost than the wall
// clock does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
