package gstruct

import (
	"debug/elf"
	"fmt"
)

// This file finds the runtime's heap variables (what package leaks reads) in an
// executable without symbols, from the machine code of runtime functions that every Go
// release from 1.20 to 1.27 compiles in the same shape (checked by the tests against each
// release's symbols, amd64 and arm64):
//
//	runtime.mallocinit:    mheap_.init()                 → &runtime.mheap_ is the argument
//	runtime.mcommoninit:   mp.alllink = allm; atomicstorep(&allm, mp)
//	runtime.preemptall:    for _, pp := range allp      → reads allp's data and len only
//	runtime.semacquire1:   semtable.rootFor(addr)        → the one address it takes
//	runtime.queuefinalizer: finc.alllink = allfin; allfin = finc
//	runtime.freeSpecial:   gcCleanups.enqueue(fn)        (Go 1.25+: cleanups)
//
// and the module's sections from runtime.firstmoduledata (found by addr2line).

// findHeapVars finds the heap variables without symbols. The sizes of the GC programs
// are not recorded anywhere but in the symbol table: each is given as the bytes up to the
// end of its segment (at most maxGCProg), and the program ends itself.
func findHeapVars(c *codeScanner) (heapVars, error) {
	var v heapVars
	var err error
	if v.Mheap, err = c.argTo("runtime.mallocinit", "runtime.(*mheap).init"); err != nil {
		return v, fmt.Errorf("runtime.mheap_: %w", err)
	}
	if v.Allm, err = c.allm(); err != nil {
		return v, fmt.Errorf("runtime.allm: %w", err)
	}
	if v.Allp, err = c.allp(); err != nil {
		return v, fmt.Errorf("runtime.allp: %w", err)
	}
	if v.Semtable, err = c.onlyAddress("runtime.semacquire1"); err != nil {
		return v, fmt.Errorf("runtime.semtable: %w", err)
	}
	if v.Allfin, err = c.allfin(); err != nil {
		return v, fmt.Errorf("runtime.allfin: %w", err)
	}
	if _, _, ok := c.tab.FuncRange("runtime.(*cleanupQueue).enqueue"); ok {
		if v.GcCleanups, err = c.argTo("runtime.freeSpecial", "runtime.(*cleanupQueue).enqueue"); err != nil {
			return v, fmt.Errorf("runtime.gcCleanups: %w", err)
		}
	}
	m := c.tab.Module()
	v.Data, v.Edata, v.Bss, v.Ebss, v.Types, v.Etypes = m.Data, m.Edata, m.Bss, m.Ebss, m.Types, m.Etypes
	v.Gcdata, v.GcdataSize = m.Gcdata, c.bytesToSegmentEnd(m.Gcdata)
	v.Gcbss, v.GcbssSize = m.Gcbss, c.bytesToSegmentEnd(m.Gcbss)
	return v, nil
}

// maxGCProg bounds the bytes read as one GC program when its size is unknown.
const maxGCProg = 1 << 20

// bytesToSegmentEnd is how many bytes of the file follow addr in its loaded segment (at
// most maxGCProg).
func (c *codeScanner) bytesToSegmentEnd(addr uint64) uint64 {
	for _, p := range c.f.Progs {
		if p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr-p.Vaddr < p.Filesz {
			return min(p.Vaddr+p.Filesz-addr, maxGCProg)
		}
	}
	return 0
}

// argTo is the writable address that the function caller passes as the first argument
// of its calls to callee: the same in every such call.
func (c *codeScanner) argTo(caller, callee string) (uint64, error) {
	entry, _, ok := c.tab.FuncRange(callee)
	if !ok {
		return 0, fmt.Errorf("no function %s in the pclntab", callee)
	}
	s, err := c.scan(caller)
	if err != nil {
		return 0, err
	}
	var addr uint64
	for _, call := range s.calls {
		if call.target != entry || call.arg0 == 0 {
			continue
		}
		if addr != 0 && addr != call.arg0 {
			return 0, fmt.Errorf("%s calls %s with %#x and %#x", caller, callee, addr, call.arg0)
		}
		addr = call.arg0
	}
	if addr == 0 {
		return 0, fmt.Errorf("%s calls %s with no known address", caller, callee)
	}
	return addr, nil
}

// onlyAddress is the one writable address the function takes (and no other).
func (c *codeScanner) onlyAddress(name string) (uint64, error) {
	s, err := c.scan(name)
	if err != nil {
		return 0, err
	}
	var addr uint64
	for _, a := range s.leas {
		if addr != 0 && addr != a {
			return 0, fmt.Errorf("%s takes two addresses (%#x and %#x)", name, addr, a)
		}
		addr = a
	}
	if addr == 0 {
		return 0, fmt.Errorf("%s takes no writable address", name)
	}
	return addr, nil
}

// allm is the word runtime.mcommoninit both reads (mp.alllink = allm) and stores to
// (atomicstorep(&allm, mp)).
func (c *codeScanner) allm() (uint64, error) {
	s, err := c.scan("runtime.mcommoninit")
	if err != nil {
		return 0, err
	}
	var addr uint64
	for _, st := range s.stores {
		if !s.words[st.addr] || st.addr == addr {
			continue
		}
		if addr != 0 {
			return 0, fmt.Errorf("runtime.mcommoninit reads and stores both %#x and %#x", addr, st.addr)
		}
		addr = st.addr
	}
	if addr == 0 {
		return 0, fmt.Errorf("runtime.mcommoninit stores no word it reads")
	}
	return addr, nil
}

// allp is the slice whose data and length words, and nothing else, runtime.preemptall
// and runtime.gcMarkTinyAllocs read (for _, pp := range allp).
func (c *codeScanner) allp() (uint64, error) {
	var addr uint64
	for _, name := range []string{"runtime.preemptall", "runtime.gcMarkTinyAllocs"} {
		s, err := c.scan(name)
		if err != nil {
			return 0, err
		}
		var a uint64
		for w := range s.words {
			if s.words[w+8] {
				a = w
			}
		}
		if a == 0 || len(s.words) != 2 {
			return 0, fmt.Errorf("%s reads %d words, not a slice's data and length", name, len(s.words))
		}
		if addr != 0 && a != addr {
			return 0, fmt.Errorf("runtime.preemptall ranges over %#x, runtime.gcMarkTinyAllocs over %#x", addr, a)
		}
		addr = a
	}
	return addr, nil
}

// allfin is the word runtime.queuefinalizer first stores a value read from a word it
// stored to before (finc = persistentalloc(...); ...; allfin = finc), having read it
// (finc.alllink = allfin).
func (c *codeScanner) allfin() (uint64, error) {
	s, err := c.scan("runtime.queuefinalizer")
	if err != nil {
		return 0, err
	}
	stored := map[uint64]bool{}
	for _, st := range s.stores {
		if st.valueFrom != 0 && stored[st.valueFrom] && st.addr != st.valueFrom && s.words[st.addr] {
			return st.addr, nil
		}
		stored[st.addr] = true
	}
	return 0, fmt.Errorf("runtime.queuefinalizer links no block into a list")
}
