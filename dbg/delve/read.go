package delve

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/gorigin-dev/gorigin/dbg"
)

// memoryReader is the read half of Delve's proc.MemoryReadWriter.
type memoryReader interface {
	ReadMemory(buf []byte, addr uint64) (int, error)
}

// readEach fills regions one ReadMemory call at a time (Delve's memory has no batched read)
// and reports the regions it could not read whole.
func readEach(m memoryReader, regions []dbg.Region) error {
	var rerr *dbg.ReadError
	for i, r := range regions {
		if len(r.Buf) == 0 {
			continue
		}
		n, err := m.ReadMemory(r.Buf, r.Addr)
		if err == nil && n != len(r.Buf) {
			err = shortRead{addr: r.Addr, n: n, want: len(r.Buf)}
		}
		if errors.Is(err, syscall.ESRCH) { // Delve reads with ptrace: the process died
			err = fmt.Errorf("%w (%v)", dbg.ErrExited, err)
		}
		if err != nil {
			if rerr == nil {
				rerr = &dbg.ReadError{Err: err}
			}
			rerr.Failed = append(rerr.Failed, i)
		}
	}
	if rerr != nil {
		return rerr
	}
	return nil
}

type shortRead struct {
	addr    uint64
	n, want int
}

func (e shortRead) Error() string {
	return fmt.Sprintf("read at %#x: %d of %d bytes readable", e.addr, e.n, e.want)
}
