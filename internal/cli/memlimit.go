package cli

import (
	"runtime/debug"
	"runtime/metrics"
)

// Output of a large snapshot: once it is built, gorigin's heap is mostly the snapshot,
// which stays live to the end, and what follows (the history, the groups, the encoding)
// allocates little beside it. With the garbage collector's default headroom (GOGC=100)
// the heap may grow to twice the snapshot before it collects: at 1,000,000 goroutines a
// 210 MB snapshot let the output phase reach 474–522 MB of RSS, over the 500 MB promise.
// A soft limit a little above what is in use when the output starts collects that
// garbage instead: 326–328 MB there, for about 0.05 s more CPU (four collections, not two).
const (
	boundFrom     = 128 << 20 // in use by the Go runtime: below it the headroom is small anyway
	boundHeadroom = 64 << 20  // at least this much over what is in use
)

// boundOutputMemory sets a soft memory limit (debug.SetMemoryLimit) of what the Go
// runtime uses now plus max(a quarter of it, boundHeadroom), when it uses at least
// boundFrom and the limit in force ($GOMEMLIMIT) is higher. The limit is soft: if the
// output needs more the collector runs more often (at most about half the CPU), it never
// fails an allocation.
func boundOutputMemory() {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return
	}
	inUse := s[0].Value.Uint64() - s[1].Value.Uint64()
	if inUse < boundFrom {
		return
	}
	room := max(inUse/4, boundHeadroom)
	limit := int64(inUse + room)
	if limit < debug.SetMemoryLimit(-1) {
		debug.SetMemoryLimit(limit)
	}
}
