package native

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gorigin-dev/gorigin/dbg"
)

const archSupported = true

// getRegs fills th's registers: PC, SP, the frame pointer (x29) and in Regs x0…x30, sp
// and pc from NT_PRSTATUS, and the thread pointer TPIDR_EL0 (in FS) from NT_ARM_TLS. It
// runs on the tracer thread while th is stopped. Note that Go on arm64 keeps the current
// g in x28, not behind the thread pointer (unless cgo is used).
func getRegs(th *dbg.Thread) error {
	var r syscall.PtraceRegs
	if err := syscall.PtraceGetRegs(th.TID, &r); err != nil {
		return err
	}
	th.PC, th.SP, th.BP = r.Pc, r.Sp, r.Regs[29]
	th.Regs = append(append(make([]uint64, 0, 33), r.Regs[:]...), r.Sp, r.Pc)
	var tls uint64
	iov := syscall.Iovec{Base: (*byte)(unsafe.Pointer(&tls))}
	iov.SetLen(int(unsafe.Sizeof(tls)))
	_, _, e := syscall.Syscall6(syscall.SYS_PTRACE, syscall.PTRACE_GETREGSET, uintptr(th.TID),
		unix.NT_ARM_TLS, uintptr(unsafe.Pointer(&iov)), 0, 0)
	if e == 0 {
		th.FS = tls
	}
	return nil
}
