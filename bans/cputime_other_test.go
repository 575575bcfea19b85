//go:build !unix

package bans

import "time"

// cpuTime is unknown here: always zero.
func cpuTime() time.Duration { return 0 }
