package gstruct

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
)

// procMem is a test-only dbg.Memory that reads a live process through /proc/PID/mem, one
// pread per region (dbg/native does better; these tests only need correct bytes).
type procMem struct{ f *os.File }

func openProcMem(t *testing.T, pid int) *procMem {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatalf("open target memory: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return &procMem{f}
}

func (p *procMem) ReadBatch(regions []dbg.Region) error {
	var re *dbg.ReadError
	for i, r := range regions {
		var err error
		if r.Addr > math.MaxInt64 {
			err = fmt.Errorf("address %#x out of range", r.Addr)
		} else {
			_, err = p.f.ReadAt(r.Buf, int64(r.Addr))
		}
		if err != nil {
			if re == nil {
				re = &dbg.ReadError{Err: fmt.Errorf("read %#x+%d: %w", r.Addr, len(r.Buf), err)}
			}
			re.Failed = append(re.Failed, i)
		}
	}
	if re != nil {
		return re
	}
	return nil
}

// procMaps parses /proc/PID/maps.
func procMaps(t *testing.T, pid int) []dbg.Mapping {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatalf("read mappings: %v", err)
	}
	defer f.Close()
	var maps []dbg.Mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode [path]
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			t.Fatalf("bad maps line %q", sc.Text())
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		off, err3 := strconv.ParseUint(fields[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad maps line %q", sc.Text())
		}
		m := dbg.Mapping{Start: start, End: end, Offset: off, Perm: fields[1]}
		if len(fields) >= 6 {
			m.Path = strings.Join(fields[5:], " ")
		}
		maps = append(maps, m)
	}
	return maps
}
