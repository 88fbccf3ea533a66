package native

import (
	"syscall"
	"unsafe"

	"github.com/gorigin-dev/gorigin/dbg"
)

const archSupported = true

// getRegs fills th's registers (all of them in Regs) with PTRACE_GETREGS. It runs on the
// tracer thread while th is stopped.
func getRegs(th *dbg.Thread) error {
	var r syscall.PtraceRegs
	if err := syscall.PtraceGetRegs(th.TID, &r); err != nil {
		return err
	}
	th.PC, th.SP, th.BP, th.FS = r.Rip, r.Rsp, r.Rbp, r.Fs_base
	// PtraceRegs is user_regs_struct: 27 words, r15 first.
	th.Regs = append([]uint64(nil), (*[unsafe.Sizeof(r) / 8]uint64)(unsafe.Pointer(&r))[:]...)
	return nil
}
