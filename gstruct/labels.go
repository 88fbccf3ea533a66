package gstruct

import (
	"fmt"

	"github.com/gorigin-dev/gorigin/dbg"
)

// Caps on what label data may claim, so that garbage cannot make gstruct allocate much.
const (
	maxLabels        = 1024     // labels of one goroutine
	maxLabelString   = 4 << 10  // bytes of one key or value
	maxLabelBytes    = 1 << 20  // bytes read for the labels of one goroutine
	maxLabelsBudget  = 64 << 20 // bytes read by one ReadLabels call
	maxMapB          = 10       // log2 of the buckets of a label map (1024 labels need B ≤ 8)
	maxOverflowDepth = 64
)

// ReadLabels fills Labels of the given goroutines from their LabelsPtr (runtime/pprof's
// label set), with one ReadBatch per level of indirection for all of them. Goroutines
// whose labels cannot be read keep nil Labels; if that happened because memory could not
// be read, ReadLabels returns an error wrapping the *dbg.ReadError after filling the rest.
func (r *Runtime) ReadLabels(m dbg.Memory, gs []*G) error {
	index := map[uint64]int{} // LabelsPtr → set number; goroutines share their parent's set
	var ptrs []uint64
	for _, g := range gs {
		if g == nil || g.LabelsPtr == 0 {
			continue
		}
		if _, ok := index[g.LabelsPtr]; !ok {
			index[g.LabelsPtr] = len(ptrs)
			ptrs = append(ptrs, g.LabelsPtr)
		}
	}
	if len(ptrs) == 0 {
		return nil
	}
	lr := &labelReader{l: r.l, m: m, sets: make([]labelSet, len(ptrs)), budget: maxLabelsBudget}
	var err error
	switch r.l.labelMap.form {
	case labelsMap:
		err = lr.readMaps(ptrs)
	default:
		err = lr.readSlices(ptrs)
	}
	if err == nil {
		err = lr.readStrings()
	}
	if err != nil {
		return fmt.Errorf("read goroutine labels: %w", err)
	}
	for _, g := range gs {
		if g == nil || g.LabelsPtr == 0 {
			continue
		}
		s := &lr.sets[index[g.LabelsPtr]]
		if s.broken || len(s.labels) == 0 {
			continue
		}
		g.Labels = make(map[string]string, len(s.labels))
		for k, v := range s.labels {
			g.Labels[k] = v
		}
	}
	if lr.readErr != nil {
		return fmt.Errorf("read the labels of %d goroutine label set(s): %w", lr.unreadable, lr.readErr)
	}
	return nil
}

// labelReader decodes label sets level by level.
type labelReader struct {
	l      *layout
	m      dbg.Memory
	sets   []labelSet
	budget int // bytes still allowed to be read

	readErr    error // the first *dbg.ReadError
	unreadable int   // sets given up because of unreadable memory
}

type labelSet struct {
	pairs  []stringPair
	count  int // hmap.count: how many pairs the map form may hold
	bytes  int // bytes read for this set
	broken bool
	labels map[string]string
}

// stringPair is a key and a value as string headers (data pointer, length).
type stringPair struct{ kp, kn, vp, vn uint64 }

// add queues a read for set i, giving the set up when it or the whole call would read too much.
func (lr *labelReader) add(b *batch, i int, addr uint64, n uint64) {
	s := &lr.sets[i]
	if s.broken {
		return
	}
	if addr == 0 || n > maxLabelBytes || uint64(s.bytes)+n > maxLabelBytes || n > uint64(lr.budget) {
		s.broken = true
		return
	}
	s.bytes += int(n)
	lr.budget -= int(n)
	b.add(i, addr, int(n))
}

// read reads a batch and marks the sets whose regions failed; it returns the regions that
// were read, with their set numbers.
func (lr *labelReader) read(b *batch) ([]dbg.Region, []int, error) {
	failed, re, err := b.read(lr.m)
	if err != nil {
		return nil, nil, err
	}
	var regions []dbg.Region
	var owners []int
	for j, reg := range b.regions {
		i := b.owners[j]
		if failed[j] {
			if !lr.sets[i].broken {
				lr.unreadable++
			}
			lr.sets[i].broken = true
			if lr.readErr == nil {
				lr.readErr = re
			}
			continue
		}
		if lr.sets[i].broken {
			continue
		}
		regions = append(regions, reg)
		owners = append(owners, i)
	}
	return regions, owners, nil
}

// readSlices decodes Go ≥ 1.24 label sets: g.labels → labelMap{[]label} → labels.
func (lr *labelReader) readSlices(ptrs []uint64) error {
	p := lr.l.ptrSize
	var headers batch
	for i, ptr := range ptrs {
		lr.add(&headers, i, ptr, uint64(3*p))
	}
	regions, owners, err := lr.read(&headers)
	if err != nil {
		return err
	}
	elemSize := uint64(4 * p)
	var arrays batch
	for j, reg := range regions {
		data, n, c := lr.l.ptrAt(reg.Buf, 0), lr.l.ptrAt(reg.Buf, p), lr.l.ptrAt(reg.Buf, 2*p)
		if n == 0 {
			continue
		}
		if n > c || n > maxLabels {
			lr.sets[owners[j]].broken = true
			continue
		}
		lr.add(&arrays, owners[j], data, n*elemSize)
	}
	regions, owners, err = lr.read(&arrays)
	if err != nil {
		return err
	}
	for j, reg := range regions {
		s := &lr.sets[owners[j]]
		for off := 0; off+int(elemSize) <= len(reg.Buf); off += int(elemSize) {
			s.pairs = append(s.pairs, stringPair{
				kp: lr.l.ptrAt(reg.Buf, off), kn: lr.l.ptrAt(reg.Buf, off+p),
				vp: lr.l.ptrAt(reg.Buf, off+2*p), vn: lr.l.ptrAt(reg.Buf, off+3*p),
			})
		}
	}
	return nil
}

// readStrings reads every key and value of every set in one batch and builds the maps.
func (lr *labelReader) readStrings() error {
	var b batch
	// where[i][k] is the region of the key and of the value of pair k of set i (-1 for "").
	where := make([][][2]int, len(lr.sets))
	for i := range lr.sets {
		s := &lr.sets[i]
		where[i] = make([][2]int, 0, len(s.pairs))
		for _, pr := range s.pairs {
			if s.broken {
				break
			}
			if pr.kn > maxLabelString || pr.vn > maxLabelString {
				s.broken = true
				break
			}
			where[i] = append(where[i], [2]int{lr.addString(&b, i, pr.kp, pr.kn), lr.addString(&b, i, pr.vp, pr.vn)})
		}
	}
	if _, _, err := lr.read(&b); err != nil {
		return err
	}
	str := func(region int) string {
		if region < 0 {
			return ""
		}
		return string(b.regions[region].Buf)
	}
	for i := range lr.sets {
		s := &lr.sets[i]
		if s.broken || len(where[i]) == 0 {
			continue
		}
		s.labels = make(map[string]string, len(where[i]))
		for _, w := range where[i] {
			s.labels[str(w[0])] = str(w[1])
		}
	}
	return nil
}

// addString queues the read of a string of set i and returns its region, or -1 when
// nothing is read (an empty string, or the set was given up).
func (lr *labelReader) addString(b *batch, i int, ptr, n uint64) int {
	if n == 0 {
		return -1
	}
	before := len(b.regions)
	lr.add(b, i, ptr, n)
	if len(b.regions) == before {
		return -1
	}
	return before
}
