package delve

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/gorigin-dev/gorigin/dbg"
)

// iovMax is the most iovecs one process_vm_readv takes.
const iovMax = 1024

// vmRead fills regions from a running process with process_vm_readv, up to iovMax regions
// per call, without stopping or tracing it: gorigin's way to plan its copy before Delve
// stops the process (Delve reads only what it has stopped). A call stops at the first range
// it cannot read; that region is retried alone and recorded as failed if it still fails.
func vmRead(pid int, regions []dbg.Region) error {
	var rerr *dbg.ReadError
	fail := func(i int, err error) {
		if rerr == nil {
			rerr = &dbg.ReadError{Err: err}
		}
		rerr.Failed = append(rerr.Failed, i)
	}
	local := make([]unix.Iovec, 0, iovMax)
	remote := make([]unix.RemoteIovec, 0, iovMax)
	index := make([]int, 0, iovMax)
	for i := 0; i < len(regions); {
		local, remote, index = local[:0], remote[:0], index[:0]
		j := i
		for ; j < len(regions) && len(local) < iovMax; j++ {
			r := regions[j]
			if len(r.Buf) == 0 {
				continue
			}
			v := unix.Iovec{Base: &r.Buf[0]}
			v.SetLen(len(r.Buf))
			local = append(local, v)
			remote = append(remote, unix.RemoteIovec{Base: uintptr(r.Addr), Len: len(r.Buf)})
			index = append(index, j)
		}
		if len(local) == 0 {
			break
		}
		n, err := unix.ProcessVMReadv(pid, local, remote, 0)
		k := 0
		for k < len(remote) && n >= remote[k].Len {
			n -= remote[k].Len
			k++
		}
		if k == len(remote) {
			i = j
			continue
		}
		// remote[k] was not read whole: alone, it may still be readable.
		bad := index[k]
		if err == unix.ESRCH {
			for ; bad < len(regions); bad++ {
				fail(bad, fmt.Errorf("read pid %d: %w", pid, dbg.ErrExited))
			}
			break
		}
		if err == unix.EPERM || err == unix.EACCES {
			for ; bad < len(regions); bad++ {
				fail(bad, permissionError(pid))
			}
			break
		}
		if err := vmReadOne(pid, regions[bad]); err != nil {
			fail(bad, err)
		}
		i = bad + 1
	}
	if rerr != nil {
		return rerr
	}
	return nil
}

func vmReadOne(pid int, r dbg.Region) error {
	v := unix.Iovec{Base: &r.Buf[0]}
	v.SetLen(len(r.Buf))
	n, err := unix.ProcessVMReadv(pid, []unix.Iovec{v}, []unix.RemoteIovec{{Base: uintptr(r.Addr), Len: len(r.Buf)}}, 0)
	if err != nil {
		return fmt.Errorf("read pid %d at %#x: %w", pid, r.Addr, err)
	}
	if n != len(r.Buf) {
		return fmt.Errorf("read pid %d at %#x: %d of %d bytes readable", pid, r.Addr, n, len(r.Buf))
	}
	return nil
}
