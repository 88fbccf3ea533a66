package delve

import (
	"errors"
	"os"
	"testing"
	"unsafe"

	"github.com/gorigin-dev/gorigin/dbg"
)

func TestCheckProcess(t *testing.T) {
	if err := checkProcess(os.Getpid()); err == nil {
		t.Error("attaching to itself: no error")
	}
	if err := checkProcess(-1); !errors.Is(err, dbg.ErrNoProcess) {
		t.Errorf("pid -1: %v, want ErrNoProcess", err)
	}
}

// TestVMRead reads this process's own memory: a readable region, an unreadable one (its
// failure reported by index, the others still filled) and an empty one.
func TestVMRead(t *testing.T) {
	src := []byte("gorigin reads memory")
	a := make([]byte, len(src))
	b := make([]byte, 8)
	c := make([]byte, 4)
	regions := []dbg.Region{
		{Addr: uint64(uintptr(unsafe.Pointer(&src[0]))), Buf: a},
		{Addr: 8, Buf: b}, // the zero page is never mapped
		{Addr: 0, Buf: nil},
		{Addr: uint64(uintptr(unsafe.Pointer(&src[8]))), Buf: c},
	}
	err := vmRead(os.Getpid(), regions)
	var re *dbg.ReadError
	if !errors.As(err, &re) || len(re.Failed) != 1 || re.Failed[0] != 1 {
		t.Fatalf("vmRead: %v, want region 1 failed", err)
	}
	if string(a) != string(src) || string(c) != "read" {
		t.Errorf("read %q and %q", a, c)
	}
}
