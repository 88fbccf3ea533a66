package native

import (
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gorigin-dev/gorigin/dbg"
)

const (
	iovMax = 1024 // IOV_MAX: the most iovecs process_vm_readv takes per call
	// maxCallBytes keeps one call below the kernel's MAX_RW_COUNT (~2 GiB), past
	// which it silently shortens the transfer.
	maxCallBytes = 1 << 30
)

// localIovec holds a real Go pointer, so the buffer it points into stays alive (and
// counts as escaping) while the kernel writes to it.
type localIovec struct {
	base *byte
	len  uintptr
}

// remoteIovec holds a target address, which must not look like a Go pointer.
type remoteIovec struct {
	base uintptr
	len  uintptr
}

// reader holds one thread of ReadBatch's iovec arrays, reused across calls.
type reader struct {
	pid    int
	local  [iovMax]localIovec
	remote [iovMax]remoteIovec
	index  [iovMax]int // region index of each iovec
}

// readers lends iovec arrays to concurrent reads.
var readers = sync.Pool{New: func() any { return new(reader) }}

// parallelBytes is the batch size from which ReadBatch splits the work over the CPUs: the
// kernel's cost is per page pinned in the target, so two threads copy the g structs of
// 100,000 goroutines (46 MB) in about half the time of one, while the target is frozen.
const parallelBytes = 4 << 20

// ReadBatch fills every region from target memory with process_vm_readv, up to 1024
// regions per call, on several threads for large batches. It works whether or not the
// process is frozen. A call stops at the first remote range it cannot read; ReadBatch then
// retries that region alone, records it as failed if it still cannot be read, and goes on
// with the next one. Failures are reported in a *dbg.ReadError after every other region
// was filled.
func (p *Process) ReadBatch(regions []dbg.Region) error {
	total := 0
	for _, r := range regions {
		total += len(r.Buf)
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, total/parallelBytes), len(regions))
	if workers <= 1 {
		return p.readChunk(regions, 0)
	}
	// Split into contiguous chunks of about equal bytes.
	var wg sync.WaitGroup
	errs := make([]error, workers)
	start, acc, w := 0, 0, 0
	for i, r := range regions {
		acc += len(r.Buf)
		if acc >= total*(w+1)/workers || i == len(regions)-1 {
			chunk, off, w0 := regions[start:i+1], start, w
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[w0] = p.readChunk(chunk, off)
			}()
			start, w = i+1, w+1
		}
	}
	wg.Wait()
	var rerr *dbg.ReadError
	for _, err := range errs {
		if err == nil {
			continue
		}
		re, ok := err.(*dbg.ReadError)
		if !ok {
			return err
		}
		if rerr == nil {
			rerr = &dbg.ReadError{Err: re.Err}
		}
		rerr.Failed = append(rerr.Failed, re.Failed...)
	}
	if rerr != nil {
		return rerr
	}
	return nil
}

// readChunk reads regions on this thread; failed indexes are reported plus off.
func (p *Process) readChunk(regions []dbg.Region, off int) error {
	rd := readers.Get().(*reader)
	defer readers.Put(rd)
	rd.pid = p.pid
	var rerr *dbg.ReadError
	fail := func(i int, err error) {
		if rerr == nil {
			rerr = &dbg.ReadError{Err: err}
		}
		rerr.Failed = append(rerr.Failed, off+i)
	}
	for i := 0; i < len(regions); {
		n, short, e := rd.readv(regions[i:])
		i += n
		if !short {
			continue
		}
		if e == syscall.ESRCH || e == syscall.EPERM {
			// The whole batch is lost: the process is gone, or we may not read it.
			err := readErrno(p.pid, regions[i].Addr, e)
			for ; i < len(regions); i++ {
				fail(i, err)
			}
			break
		}
		// regions[i] is the first one not read whole. Alone, it may still be readable
		// (the call also stops short when a mapping changes under it).
		if err := rd.readOne(regions[i]); err != nil {
			fail(i, err)
		}
		i++
	}
	if rerr != nil {
		return rerr
	}
	return nil
}

// readv reads as many of the leading regions as fit in one process_vm_readv. It
// returns how many leading regions it consumed and, when short is true, that the
// region right after them was not read whole; e is set only when nothing was read.
func (p *reader) readv(regions []dbg.Region) (done int, short bool, e syscall.Errno) {
	n, total := 0, uintptr(0)
	for k, r := range regions {
		if n == iovMax || (n > 0 && total+uintptr(len(r.Buf)) > maxCallBytes) {
			break
		}
		if len(r.Buf) == 0 {
			continue
		}
		p.local[n] = localIovec{base: &r.Buf[0], len: uintptr(len(r.Buf))}
		p.remote[n] = remoteIovec{base: uintptr(r.Addr), len: uintptr(len(r.Buf))}
		p.index[n] = k
		total += uintptr(len(r.Buf))
		n++
	}
	if n == 0 {
		return len(regions), false, 0 // nothing but empty regions
	}
	got, _, e := syscall.Syscall6(unix.SYS_PROCESS_VM_READV, uintptr(p.pid),
		uintptr(unsafe.Pointer(&p.local[0])), uintptr(n),
		uintptr(unsafe.Pointer(&p.remote[0])), uintptr(n), 0)
	runtime.KeepAlive(regions)
	clear(p.local[:n]) // do not keep the caller's buffers alive
	if e != 0 {
		return p.index[0], true, e
	}
	k := 0
	for k < n && got >= p.remote[k].len {
		got -= p.remote[k].len
		k++
	}
	if k == n {
		return p.index[n-1] + 1, false, 0
	}
	return p.index[k], true, 0
}

// readOne reads one region on its own, in pieces below the kernel's size limit, and
// says why it could not.
func (p *reader) readOne(r dbg.Region) error {
	for done := 0; done < len(r.Buf); {
		chunk := r.Buf[done:]
		if len(chunk) > maxCallBytes {
			chunk = chunk[:maxCallBytes]
		}
		addr := r.Addr + uint64(done)
		_, short, e := p.readv([]dbg.Region{{Addr: addr, Buf: chunk}})
		if e != 0 {
			return readErrno(p.pid, addr, e)
		}
		if short {
			return readErrno(p.pid, addr, syscall.EFAULT) // readable only in part
		}
		done += len(chunk)
	}
	return nil
}

func readErrno(pid int, addr uint64, e syscall.Errno) error {
	switch e {
	case syscall.ESRCH:
		return fmt.Errorf("read pid %d: %w", pid, dbg.ErrExited)
	case syscall.EPERM, syscall.EACCES:
		return permissionError(pid)
	}
	return fmt.Errorf("read pid %d at %#x: %w", pid, addr, e)
}
