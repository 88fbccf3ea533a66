package leaks

import (
	"encoding/binary"

	"github.com/gorigin-dev/gorigin/addr2line"
	"github.com/gorigin-dev/gorigin/dbg"
)

// maxPreciseStack bounds the stack read to be scanned precisely; a larger one is scanned
// conservatively.
const maxPreciseStack = 64 << 20

// maxFrames bounds the frames of one stack.
const maxFrames = 1 << 16

// frameMaps finds the compiler's stack maps: the executable's function table, for amd64
// executables (the frame layout stackRoots knows); nil elsewhere.
type frameMaps struct {
	tab    *addr2line.Table
	goexit uint64 // runtime.goexit's entry: the outermost frame of every goroutine
}

func newFrameMaps(exe string, l *layout) *frameMaps {
	if !l.amd64 {
		return nil
	}
	tab, err := addr2line.Open(exe)
	if err != nil {
		return nil
	}
	entry, _, ok := tab.FuncRange("runtime.goexit")
	if !ok {
		return nil
	}
	return &frameMaps{tab: tab, goexit: entry}
}

// preciseStack queues a parked goroutine's stack (or one in a system call) from its
// saved stack pointer: stackRoots. It reports false, having queued nothing, when it
// cannot read it; the caller then scans the stack conservatively.
func (a *analysis) preciseStack(g *gor) bool {
	sp, hi := g.g.SchedSP, g.g.StackHi
	if a.frames == nil || sp <= g.g.StackLo || sp >= hi || hi-sp > maxPreciseStack {
		return false
	}
	gbuf := make([]byte, a.rt.GSize())
	if err := a.m.ReadBatch([]dbg.Region{{Addr: g.g.Addr, Buf: gbuf}}); err != nil {
		return false
	}
	return a.stackRoots(sp, g.g.SchedPC, hi, false, gbuf)
}

// stackRoots queues as roots only the words of the stack [sp, hi) that the compiler's
// maps say hold live pointers, frame by frame from pc as the garbage collector's
// scanstack does (runtime/stkframe.go getStackMap, amd64), and the stack objects a live
// word points into. Where it cannot go on — a frame without maps, a PC in no function,
// the top of a thread's stack — it scans the rest conservatively, and so the innermost
// frame when innermost says its PC may be anywhere (a thread stopped by gorigin) rather
// than at a call. extra are words pointing into the stack from elsewhere (the g struct's
// defer and panic records). Conservative where it must be, it never misses a pointer the
// garbage collector would see.
func (a *analysis) stackRoots(sp0, pc, hi uint64, innermost bool, extra []byte) bool {
	fm := a.frames
	buf := make([]byte, hi-sp0)
	if err := a.m.ReadBatch([]dbg.Region{{Addr: sp0, Buf: buf}}); err != nil {
		return false
	}
	word := func(addr uint64) (uint64, bool) {
		if addr < sp0 || addr+8 > hi {
			return 0, false
		}
		return binary.LittleEndian.Uint64(buf[addr-sp0:]), true
	}
	var roots, objects, whole [][2]uint64
	sp := sp0
	rest := hi        // from here up, conservatively
	unmapped := false // the frame below took arguments of unknown size (assembly)
	for depth := 0; ; depth++ {
		if depth == maxFrames || pc < a.bias {
			rest = sp
			break
		}
		m, err := fm.tab.FrameMaps(pc - a.bias)
		if err != nil {
			rest = sp
			break
		}
		if m.Entry == fm.goexit {
			rest = hi
			break
		}
		fp := sp + uint64(m.SPDelta) + 8 // above the return address
		if m.SPDelta < 0 || fp > hi {
			rest = sp
			break
		}
		varp := fp - 8
		if varp > sp {
			varp -= 8 // the saved frame pointer
		}
		n := uint64(len(m.Locals)) * 8
		switch {
		case depth == 0 && innermost, m.Locals == nil && varp > sp, varp-sp < n:
			whole = append(whole, [2]uint64{sp, fp - 8}) // anywhere in it, or assembly
		default:
			for i, live := range m.Locals {
				if live {
					at := varp - n + uint64(i)*8
					roots = append(roots, [2]uint64{at, at + 8})
				}
			}
			if unmapped && varp-n > sp {
				whole = append(whole, [2]uint64{sp, varp - n}) // what it passed them
			}
		}
		unmapped = m.ArgsUnknown
		if m.Args == nil && m.ArgsSize > 0 {
			whole = append(whole, [2]uint64{fp, min(fp+uint64(m.ArgsSize), hi)})
		}
		for i, live := range m.Args {
			if at := fp + uint64(i)*8; live && at+8 <= hi {
				roots = append(roots, [2]uint64{at, at + 8})
			}
		}
		for _, o := range m.Objects {
			base := varp
			if o.Off >= 0 {
				base = fp
			}
			lo := base + uint64(o.Off)
			if lo >= sp && lo+uint64(o.Size) <= hi {
				objects = append(objects, [2]uint64{lo, lo + uint64(o.Size)})
			}
		}
		ret, ok := word(fp - 8)
		if !ok {
			rest = sp
			break
		}
		pc, sp = ret, fp
	}
	if rest < hi {
		whole = append(whole, [2]uint64{rest, hi})
	}
	roots = append(roots, whole...)

	// A stack object (an address-taken variable) is live only when a live word points
	// into it, as scanstack decides: from a frame's live slots, another live stack
	// object, what is scanned whole, or extra.
	var values []uint64
	for i := 0; i+8 <= len(extra); i += 8 {
		values = append(values, binary.LittleEndian.Uint64(extra[i:]))
	}
	for _, r := range roots {
		for at := r[0] &^ 7; at+8 <= r[1]; at += 8 {
			if v, ok := word(at); ok {
				values = append(values, v)
			}
		}
	}
	live := make([]bool, len(objects))
	for len(values) > 0 {
		v := values[len(values)-1]
		values = values[:len(values)-1]
		for i, o := range objects {
			if live[i] || v < o[0] || v >= o[1] {
				continue
			}
			live[i] = true
			roots = append(roots, o)
			for at := o[0] &^ 7; at+8 <= o[1]; at += 8 {
				if w, ok := word(at); ok {
					values = append(values, w)
				}
			}
		}
	}
	for _, r := range mergeRanges(roots) {
		a.k.root(r[0], r[1]-r[0])
	}
	return true
}
