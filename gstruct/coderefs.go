package gstruct

import "fmt"

// codeRefs is what a scan of one function's machine code found it doing with writable
// memory (data, bss), whatever the architecture: the analyses below read only this.
type codeRefs struct {
	words map[uint64]bool // writable addresses read or written as 8-byte words
	// stores are the register-to-memory stores to writable addresses, with where the
	// stored value was loaded from (0: unknown).
	stores []codeStore
	leas   []uint64 // writable addresses taken into a register (LEAQ; ADRP+ADD)
	cmpImm []int64  // immediates compared with a (byte-sized) register, in order
	calls  []codeCall
}

type codeStore struct{ addr, valueFrom uint64 }

// codeCall is a direct call: its target and the writable address the first argument
// register holds (0: unknown), as in LEAQ runtime.mheap_(SB), AX; CALL (*mheap).init.
type codeCall struct{ target, arg0 uint64 }

// allgsFromAllgadd finds runtime.allgs (the slice whose three words allgadd reads and
// writes) and runtime.allglen (where allgadd stores the slice's new length).
func allgsFromAllgadd(s *codeRefs) (allgs, allglen uint64, err error) {
	for a := range s.words {
		if s.words[a+8] && s.words[a+16] {
			if allgs != 0 && allgs != a {
				return 0, 0, fmt.Errorf("two slice headers (%#x and %#x) in runtime.allgadd", allgs, a)
			}
			allgs = a
		}
	}
	if allgs == 0 {
		return 0, 0, fmt.Errorf("no slice header read and written in runtime.allgadd")
	}
	for _, st := range s.stores {
		if st.valueFrom != allgs+8 || st.addr >= allgs && st.addr < allgs+24 {
			continue
		}
		if allglen != 0 && allglen != st.addr {
			return 0, 0, fmt.Errorf("len(allgs) is stored to both %#x and %#x in runtime.allgadd", allglen, st.addr)
		}
		allglen = st.addr
	}
	if allglen == 0 {
		return 0, 0, fmt.Errorf("runtime.allgadd stores len(allgs) at %#x nowhere", allgs+8)
	}
	return allgs, allglen, nil
}

// waitReasonsFromString finds runtime.waitReasonStrings (the one writable address that
// waitReason.String takes) and its length (the bound it compares the reason with).
func waitReasonsFromString(s *codeRefs) (addr uint64, count int, err error) {
	for _, a := range s.leas {
		if addr != 0 && addr != a {
			return 0, 0, fmt.Errorf("runtime.waitReason.String takes two addresses (%#x and %#x)", addr, a)
		}
		addr = a
	}
	if addr == 0 {
		return 0, 0, fmt.Errorf("runtime.waitReason.String takes no writable address")
	}
	if len(s.cmpImm) > 0 && s.cmpImm[0] > 0 && s.cmpImm[0] <= maxWaitReasons {
		count = int(s.cmpImm[0])
	}
	return addr, count, nil
}
