package capture

import (
	"hash/maphash"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/gstruct"
)

// warmStacks is a copy of every goroutine's stack made from the running target, before the
// freeze, with a digest of each g struct as it was then. A goroutine whose g struct is byte
// for byte the same once the target is frozen has not run in between (every time a
// goroutine stops running, the runtime updates its g: status, sched, trackingSeq...), so its
// stack — the part the unwinder reads — is the one copied warm; only the stacks of the
// goroutines that changed are read while the target is frozen. Reading 100,000 small
// stacks costs a few hundred milliseconds, mostly per stack, whatever their size: done
// warm, it no longer stops the target.
type warmStacks struct {
	seed   maphash.Seed
	addrs  []uint64          // the g's in allgs order, as the warm copy saw them
	sums   []uint64          // the digest of each one's g struct then
	stacks map[uint64][]byte // g address → its stack then (see readStacks)
}

// copyStacksWarm copies the stacks of the g's at addrs (raws: their g structs, just read
// from the running target, decoded by decode: gstruct.Runtime.Decode) into arena.
func copyStacksWarm(m dbg.Memory, decode func(addr uint64, raw []byte) gstruct.G, addrs []uint64, raws [][]byte, arena *stackArena) *warmStacks {
	w := &warmStacks{seed: maphash.MakeSeed(), addrs: addrs, sums: make([]uint64, len(raws))}
	gs := make([]gstruct.G, len(raws))
	for i, raw := range raws {
		w.sums[i] = maphash.Bytes(w.seed, raw)
		gs[i] = decode(addrs[i], raw)
	}
	w.stacks = readStacks(m, gs, arena)
	if w.stacks == nil {
		w.stacks = map[uint64][]byte{}
	}
	return w
}

// refresh runs while the target is frozen, with addrs and raws its g structs read then:
// it re-reads the stacks of the goroutines whose g struct changed since the warm copy (or
// that are new) and returns every goroutine's stack, and how many it re-read.
func (w *warmStacks) refresh(m dbg.Memory, decode func(addr uint64, raw []byte) gstruct.G, addrs []uint64, raws [][]byte, arena *stackArena) (map[uint64][]byte, int) {
	var changed []gstruct.G
	for i, a := range addrs {
		if i < len(w.addrs) && w.addrs[i] == a && w.sums[i] == maphash.Bytes(w.seed, raws[i]) {
			continue
		}
		delete(w.stacks, a)
		changed = append(changed, decode(a, raws[i]))
	}
	for a, s := range readStacks(m, changed, arena) {
		w.stacks[a] = s
	}
	return w.stacks, len(changed)
}
