package native

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/dbg"
)

// BenchmarkFreezeThaw freezes and thaws the spin target with no busy thread (all
// ~6 threads asleep) and with 4 busy threads (~10 in all, on however many cores).
// freeze-µs is LastFreeze: first thread interrupted to last thread detached.
func BenchmarkFreezeThaw(b *testing.B) {
	for _, spinners := range []int{0, 4} {
		b.Run(fmt.Sprintf("busy=%d", spinners), func(b *testing.B) {
			tg := startTarget(b, spinners, 0)
			p := attach(b, tg.pid, Options{})
			var total time.Duration
			for b.Loop() {
				freeze(b, p)
				if err := p.Thaw(); err != nil {
					b.Fatal(err)
				}
				total += p.LastFreeze()
			}
			b.ReportMetric(float64(total.Nanoseconds())/1e3/float64(b.N), "freeze-µs/op")
		})
	}
}

// BenchmarkReadBatch reads a running target's heap: "small" is 100k 448-byte regions
// 512 bytes apart (like g structs), "large" is 45 MB in 360 regions of 128 KiB, and
// "copy" is the peer to compare with: the same 45 MB copied within this process.
func BenchmarkReadBatch(b *testing.B) {
	const heap = 100_000 * 512
	tg := startTarget(b, 1, heap)
	p := attach(b, tg.pid, Options{})
	b.Run("copy", func(b *testing.B) {
		src, dst := make([]byte, 360<<17), make([]byte, 360<<17)
		for i := range src {
			src[i] = byte(i)
		}
		b.SetBytes(int64(len(dst)))
		for b.Loop() {
			copy(dst, src)
		}
	})
	for _, bc := range []struct {
		name        string
		count, size int
		stride      uint64
	}{
		{"small", 100_000, 448, 512},
		{"large", 360, 128 << 10, 128 << 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, bc.count*bc.size)
			regions := make([]dbg.Region, bc.count)
			for i := range regions {
				regions[i] = dbg.Region{Addr: tg.heap + uint64(i)*bc.stride, Buf: buf[i*bc.size : (i+1)*bc.size]}
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.ReadBatch(regions); err != nil {
					b.Fatal(err)
				}
			}
			// The target fills its heap with byte(offset/512).
			for i, r := range regions {
				off := uint64(i)*bc.stride + uint64(len(r.Buf)) - 1
				if got, want := r.Buf[len(r.Buf)-1], byte(off/512); got != want {
					b.Fatalf("region %d: last byte %d, want %d", i, got, want)
				}
			}
		})
	}
}
