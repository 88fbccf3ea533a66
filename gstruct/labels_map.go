package gstruct

import "fmt"

// readMaps decodes Go ≤ 1.23 label sets: g.labels → map variable → hmap → buckets (and
// old buckets while the map grows) → overflow buckets, level by level.
func (lr *labelReader) readMaps(ptrs []uint64) error {
	l, ml := lr.l, &lr.l.labelMap
	if ml.hmapSize <= 0 || ml.bucketSize <= 0 {
		return fmt.Errorf("no layout for runtime.hmap")
	}
	var vars batch
	for i, ptr := range ptrs {
		lr.add(&vars, i, ptr, uint64(l.ptrSize))
	}
	regions, owners, err := lr.read(&vars)
	if err != nil {
		return err
	}
	var hmaps batch
	for j, reg := range regions {
		if h := l.ptrAt(reg.Buf, 0); h != 0 {
			lr.add(&hmaps, owners[j], h, uint64(ml.hmapSize))
		}
	}
	regions, owners, err = lr.read(&hmaps)
	if err != nil {
		return err
	}
	bsize := uint64(ml.bucketSize)
	var buckets batch
	for j, reg := range regions {
		i := owners[j]
		count, _ := uintAt(l.order, reg.Buf, ml.hmapCount)
		flags, _ := uintAt(l.order, reg.Buf, ml.hmapFlags)
		b, _ := uintAt(l.order, reg.Buf, ml.hmapB)
		cur, _ := uintAt(l.order, reg.Buf, ml.hmapBuckets)
		old, _ := uintAt(l.order, reg.Buf, ml.hmapOldbuckets)
		if count == 0 {
			continue
		}
		if count > maxLabels || b > maxMapB {
			lr.sets[i].broken = true
			continue
		}
		lr.sets[i].count = int(count)
		lr.add(&buckets, i, cur, bsize<<b)
		if old != 0 { // growing: buckets not yet evacuated still hold entries
			switch {
			case uint8(flags)&ml.sameSizeGrow != 0:
				lr.add(&buckets, i, old, bsize<<b)
			case b > 0:
				lr.add(&buckets, i, old, bsize<<(b-1))
			}
		}
	}
	for depth := 0; len(buckets.regions) > 0; depth++ {
		if depth > maxOverflowDepth {
			for _, i := range buckets.owners {
				lr.sets[i].broken = true
			}
			break
		}
		regions, owners, err = lr.read(&buckets)
		if err != nil {
			return err
		}
		var overflow batch
		for j, reg := range regions {
			i := owners[j]
			for off := 0; off+int(bsize) <= len(reg.Buf); off += int(bsize) {
				lr.bucket(i, reg.Buf[off:off+int(bsize)])
				if ovf := l.ptrAt(reg.Buf, off+ml.bucketOverflow); ovf != 0 {
					lr.add(&overflow, i, ovf, bsize)
				}
			}
		}
		buckets = overflow
	}
	return nil
}

// bucket collects the full slots of one bucket<string,string> into set i.
func (lr *labelReader) bucket(i int, b []byte) {
	l, ml := lr.l, &lr.l.labelMap
	s := &lr.sets[i]
	str := 2 * l.ptrSize
	for k := 0; k < bucketCount; k++ {
		top := ml.bucketTophash + k
		if top >= len(b) || b[top] < ml.minTopHash {
			continue // empty, or evacuated to the new buckets
		}
		if len(s.pairs) >= s.count {
			s.broken = true
			return
		}
		ko, vo := ml.bucketKeys+k*str, ml.bucketElems+k*str
		s.pairs = append(s.pairs, stringPair{
			kp: l.ptrAt(b, ko), kn: l.ptrAt(b, ko+l.ptrSize),
			vp: l.ptrAt(b, vo), vn: l.ptrAt(b, vo+l.ptrSize),
		})
	}
}
