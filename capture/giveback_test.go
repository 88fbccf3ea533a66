//go:build linux

package capture

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestGiveBack decodes a copy of 20,000 g structs (9 MB, so mapped outside the heap) the
// way build does, in allgs order, and checks against the memory the copy was read from
// that every g still holds its bytes when its turn comes, whatever the order — so no part
// of the copy was given back early — and, with mincore, that the copy's pages left memory
// while it was being decoded, not only at the end.
func TestGiveBack(t *testing.T) {
	const n, size, stride = 20000, 456, 480
	mem := &pages{present: map[uint64]bool{}}
	base := uint64(0x1000000)
	addrs := make([]uint64, n)
	for i := range addrs {
		addrs[i] = base + uint64(i)*stride
	}
	for a := base; a < base+n*stride+4096; a += 4096 {
		mem.present[a] = true
	}
	for _, order := range []string{"address", "shuffled"} {
		t.Run(order, func(t *testing.T) {
			addrs := slices.Clone(addrs)
			if order == "shuffled" {
				r := rand.New(rand.NewPCG(1, 2))
				r.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
			}
			plan := planCopy(addrs, size)
			defer plan.free()
			got, raws, err := plan.read(mem, addrs)
			if err != nil || len(got) != n {
				t.Fatalf("read %d of %d g's: %v", len(got), n, err)
			}
			back := plan.giveBack(raws)
			if back == nil {
				t.Fatalf("a %d-byte copy cannot be given back in parts", len(plan.buf))
			}
			residentAtHalf := -1
			for i, raw := range raws {
				if !bytes.Equal(raw, mem.want(got[i], size)) {
					t.Fatalf("g %d of %d (%#x) lost its bytes before it was decoded", i, n, got[i])
				}
				back(i)
				if i == n/2 {
					residentAtHalf = resident(t, plan.buf)
				}
			}
			all := (len(plan.buf) + pageSize - 1) / pageSize
			if left := resident(t, plan.buf); left != 0 {
				t.Errorf("%d of the copy's %d pages still in memory after every g was decoded", left, all)
			}
			if order == "address" && residentAtHalf > all*3/5 {
				t.Errorf("half-way through, %d of the copy's %d pages were still in memory: want about half", residentAtHalf, all)
			}
			t.Logf("%s order: %d of %d pages in memory half-way", order, residentAtHalf, all)
		})
	}
}

// resident counts the pages of b in memory.
func resident(t *testing.T, b []byte) int {
	vec := make([]byte, (len(b)+pageSize-1)/pageSize)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}
