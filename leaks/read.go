package leaks

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gorigin-dev/gorigin/dbg"
)

// Reads are merged into few large ones: neighbours closer than mergeGap share one region,
// a region holds at most maxRegion bytes, and one ReadBatch at most maxBatch, so that
// gorigin's memory stays bounded however large the heap is.
const (
	mergeGap  = 4 << 10
	maxRegion = 1 << 20
	maxBatch  = 64 << 20
)

// item is one read: n bytes at addr.
type item struct {
	addr uint64
	n    int
}

// readMany reads every item, merging neighbours, and calls fn with each item's index and
// bytes (valid only during the call); items that cannot be read are counted in failed
// and not passed to fn. err is set only when reading fails as a whole.
func readMany(m dbg.Memory, items []item, fn func(i int, b []byte)) (failed int, err error) {
	var scratch []byte
	return readManyInto(m, items, &scratch, fn)
}

// readManyInto is readMany reading into *scratch, grown as needed and kept for the next
// call: marking reads in many rounds, and clearing fresh buffers cost as much as reading.
func readManyInto(m dbg.Memory, items []item, scratch *[]byte, fn func(i int, b []byte)) (failed int, err error) {
	order := make([]int, 0, len(items))
	for i, it := range items {
		if it.n > 0 && it.n <= maxRegion && it.addr+uint64(it.n) > it.addr {
			order = append(order, i)
		} else if it.n > 0 {
			failed++
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		switch x, y := items[a].addr, items[b].addr; {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	type run struct {
		lo, hi   uint64
		from, to int // order[from:to]
	}
	var runs []run
	for k, i := range order {
		it := items[i]
		end := it.addr + uint64(it.n)
		if n := len(runs); n > 0 && it.addr <= runs[n-1].hi+mergeGap && max(end, runs[n-1].hi)-runs[n-1].lo <= maxRegion {
			runs[n-1].hi = max(runs[n-1].hi, end)
			runs[n-1].to = k + 1
			continue
		}
		runs = append(runs, run{it.addr, end, k, k + 1})
	}
	buf := *scratch
	defer func() { *scratch = buf }()
	for start := 0; start < len(runs); {
		total, end := 0, start
		for end < len(runs) && (end == start || total+int(runs[end].hi-runs[end].lo) <= maxBatch) {
			total += int(runs[end].hi - runs[end].lo)
			end++
		}
		if cap(buf) < total {
			buf = make([]byte, total)
		}
		regions := make([]dbg.Region, 0, end-start)
		b := buf[:total]
		for _, r := range runs[start:end] {
			n := int(r.hi - r.lo)
			regions = append(regions, dbg.Region{Addr: r.lo, Buf: b[:n:n]})
			b = b[n:]
		}
		bad := map[int]bool{}
		if err := m.ReadBatch(regions); err != nil {
			var re *dbg.ReadError
			if !errors.As(err, &re) {
				return failed, fmt.Errorf("read target memory: %w", err)
			}
			for _, i := range re.Failed {
				bad[i] = true
			}
		}
		for j, r := range runs[start:end] {
			if bad[j] {
				// Read the run's items one by one: one unreadable page spoils only its own.
				for _, i := range order[r.from:r.to] {
					one := []dbg.Region{{Addr: items[i].addr, Buf: make([]byte, items[i].n)}}
					if m.ReadBatch(one) != nil {
						failed++
						continue
					}
					fn(i, one[0].Buf)
				}
				continue
			}
			for _, i := range order[r.from:r.to] {
				off := items[i].addr - r.lo
				fn(i, regions[j].Buf[off:off+uint64(items[i].n)])
			}
		}
		start = end
	}
	return failed, nil
}
