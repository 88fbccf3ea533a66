//go:build linux && !amd64 && !arm64

package native

import (
	"syscall"

	"github.com/gorigin-dev/gorigin/dbg"
)

// The native backend supports amd64 and arm64; elsewhere Attach says so.
const archSupported = false

func getRegs(th *dbg.Thread) error { return syscall.ENOSYS }
