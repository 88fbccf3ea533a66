package gstruct

import "encoding/binary"

// field is where one value lives inside a runtime structure: its byte offset and size.
// A zero size means the field does not exist in this Go version.
type field struct{ off, size int }

func (f field) present() bool { return f.size > 0 }

// layout is everything gstruct needs to know about one Go version's runtime data
// structures. It is filled from the target's DWARF (layoutFromDWARF); a table of built-in
// per-version layouts, for stripped binaries, fills the same struct.
type layout struct {
	ptrSize int
	order   binary.ByteOrder

	// runtime.g: its size and where each decoded field is.
	gSize                               int
	goid, parentGoid, status, waitsince field
	waitreason, gopc, startpc, stackLo  field
	stackHi, m, lockedm, labels         field
	schedSP, schedPC, schedBP           field

	// Status constants: the name of each status (without the scan bit), the scan bit,
	// and _Gwaiting, the status in which g.waitreason means something.
	statuses map[uint32]string
	gscan    uint32
	gwaiting uint32

	waitReasonCount int // length of runtime.waitReasonStrings

	labelMap labelLayout

	heap HeapLayout // what package leaks reads (Runtime.Heap)
}

// labelForm is how runtime/pprof stores a goroutine's labels behind g.labels.
type labelForm int

const (
	// labelsMap: Go ≤ 1.23, g.labels points to a labelMap, a map[string]string variable.
	labelsMap labelForm = iota + 1
	// labelsSlice: Go ≥ 1.24, g.labels points to a labelMap struct whose first field is a
	// sorted []struct{key, value string}.
	labelsSlice
)

// labelLayout describes the label representation; the hmap and bucket parts are used only
// by labelsMap (the classic, pre-swiss map of Go ≤ 1.23).
type labelLayout struct {
	form labelForm

	hmapSize                               int
	hmapCount, hmapFlags, hmapB            field
	hmapBuckets, hmapOldbuckets            field
	bucketSize                             int
	bucketTophash, bucketKeys, bucketElems int // offsets in bucket<string,string>
	bucketOverflow                         int
	sameSizeGrow                           uint8 // hmap.flags bit: old buckets are as many as new
	minTopHash                             uint8 // tophash values below this mark empty or evacuated slots
}

// bucketCount is the number of slots in a classic map bucket (runtime.bucketCnt); it is
// 8 in every Go version that has classic maps.
const bucketCount = 8

// classicMapLayout is the layout of runtime.hmap and of bucket<string,string> computed
// from the pointer size, used when the DWARF does not describe them.
func classicMapLayout(ptrSize int) labelLayout {
	p := ptrSize
	str := 2 * p
	return labelLayout{
		form:           labelsMap,
		hmapSize:       p + 4 + 4 + 4*p,
		hmapCount:      field{0, p},
		hmapFlags:      field{p, 1},
		hmapB:          field{p + 1, 1},
		hmapBuckets:    field{p + 8, p},
		hmapOldbuckets: field{2*p + 8, p},
		bucketTophash:  0,
		bucketKeys:     bucketCount,
		bucketElems:    bucketCount + bucketCount*str,
		bucketOverflow: bucketCount + 2*bucketCount*str,
		bucketSize:     bucketCount + 2*bucketCount*str + p,
		sameSizeGrow:   8,
		minTopHash:     5,
	}
}

// statusName is the name gorigin gives a runtime status constant (named without its
// "runtime._G" prefix), as the runtime's traceback names statuses; ok is false for
// constants that are not statuses (_Gscan*, _GCoff, _GoidCacheBatch, ...).
func statusName(constName string) (name string, ok bool) {
	switch constName {
	case "idle", "runnable", "running", "syscall", "waiting", "dead", "copystack", "preempted", "leaked":
		return constName, true
	case "deadextra":
		return "dead", true
	case "moribund_unused", "enqueue_unused":
		return "unknown", true
	}
	return "", false
}
