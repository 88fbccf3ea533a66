package native

import (
	"syscall"

	"github.com/gorigin-dev/gorigin/dbg"
)

const (
	archSupported     = true
	sysProcessVMReadv = 310 // the syscall package's amd64 table predates it
)

// getRegs fills th's registers with PTRACE_GETREGSET NT_PRSTATUS. It runs on the
// tracer thread while th is stopped.
func getRegs(th *dbg.Thread) error {
	var r syscall.PtraceRegs
	if err := syscall.PtraceGetRegs(th.TID, &r); err != nil {
		return err
	}
	th.PC, th.SP, th.BP, th.FS = r.Rip, r.Rsp, r.Rbp, r.Fs_base
	return nil
}
