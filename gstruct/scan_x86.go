package gstruct

import (
	"golang.org/x/arch/x86/x86asm"
)

// This file finds runtime variables in amd64 machine code, for executables without a
// symbol table. Every Go release from 1.20 to 1.27 compiles the two functions it reads
// the same way (checked by the tests against each release's symbols):
//
//	runtime.allgadd:
//	    MOVQ runtime.allgs+16(SB), CX    // allgs = append(allgs, gp): the slice header
//	    MOVQ runtime.allgs+8(SB), BX     // is read and written word by word
//	    ...
//	    MOVQ runtime.allgs+8(SB), CX     // atomic.Storeuintptr(&allglen, uintptr(len(allgs)))
//	    LEAQ runtime.allglen(SB), DX
//	    XCHGQ CX, 0(DX)
//
//	runtime.waitReason.String:
//	    CMPL AL, $N                      // w >= waitReason(len(waitReasonStrings))
//	    ...
//	    LEAQ runtime.waitReasonStrings(SB), DX

// maxScanInsts bounds the instructions decoded in one function.
const maxScanInsts = 1 << 14

// x86Ref is what a scan knows about a register: the address it holds (LEAQ sym(SB)) or
// the address of the word it was loaded from (MOVQ sym(SB), reg). Zero means unknown.
type x86Reg struct{ addrOf, loadedFrom uint64 }

// x86Scan walks one function's instructions, tracking registers through the simple
// moves the compiler emits around global variables.
type x86Scan struct {
	codeRefs
	writable func(addr uint64) bool // in a writable segment (data, bss)
	regs     map[x86asm.Reg]x86Reg
}

// scanX86 decodes code (the function at pc) and returns what it references. Undecodable
// bytes are skipped; garbage gives an empty or meaningless scan, never a panic.
func scanX86(pc uint64, code []byte, writable func(uint64) bool) *x86Scan {
	s := &x86Scan{writable: writable, regs: map[x86asm.Reg]x86Reg{}, codeRefs: codeRefs{words: map[uint64]bool{}}}
	for off, n := 0, 0; off < len(code) && n < maxScanInsts; n++ {
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil || inst.Len <= 0 {
			off++
			s.regs = map[x86asm.Reg]x86Reg{}
			continue
		}
		s.step(inst, pc+uint64(off))
		off += inst.Len
	}
	return s
}

func (s *x86Scan) step(inst x86asm.Inst, pc uint64) {
	next := pc + uint64(inst.Len)
	dst, dstIsReg := reg64(inst.Args[0])
	switch inst.Op {
	case x86asm.LEA:
		if t, ok := s.ripTarget(inst.Args[1], next); ok && dstIsReg {
			s.regs[dst] = x86Reg{addrOf: t}
			s.leas = append(s.leas, t)
			return
		}
	case x86asm.MOV:
		if t, ok := s.ripTarget(inst.Args[1], next); ok && dstIsReg && inst.MemBytes == 8 {
			s.words[t] = true
			s.regs[dst] = x86Reg{loadedFrom: t}
			return
		}
		if t, ok := s.memTarget(inst.Args[0], next); ok {
			if src, ok := reg64(inst.Args[1]); ok && inst.MemBytes == 8 {
				s.words[t] = true
				s.stores = append(s.stores, codeStore{t, s.regs[src].loadedFrom})
			}
			return
		}
	case x86asm.XCHG:
		mem, r := inst.Args[0], inst.Args[1]
		if _, ok := mem.(x86asm.Mem); !ok {
			mem, r = r, mem
		}
		if t, ok := s.memTarget(mem, next); ok {
			if src, ok := reg64(r); ok && inst.MemBytes == 8 {
				s.stores = append(s.stores, codeStore{t, s.regs[src].loadedFrom})
				delete(s.regs, src) // it now holds the old value
			}
			return
		}
	case x86asm.CMP:
		if t, ok := s.ripTarget(inst.Args[0], next); ok && inst.MemBytes == 8 {
			s.words[t] = true
		}
		if r, ok := inst.Args[0].(x86asm.Reg); ok && r >= x86asm.AL && r <= x86asm.R15B {
			if imm, ok := inst.Args[1].(x86asm.Imm); ok {
				s.cmpImm = append(s.cmpImm, int64(imm))
			}
		}
		return // writes only flags
	case x86asm.CALL:
		if rel, ok := inst.Args[0].(x86asm.Rel); ok {
			s.calls = append(s.calls, codeCall{next + uint64(int64(rel)), s.regs[x86asm.RAX].addrOf})
		}
		s.regs = map[x86asm.Reg]x86Reg{}
		return
	}
	// Anything else that writes a register makes it unknown.
	if dstIsReg {
		delete(s.regs, dst)
	} else if r, ok := inst.Args[0].(x86asm.Reg); ok && r < x86asm.AX {
		s.regs = map[x86asm.Reg]x86Reg{} // a byte register: forget everything, to be safe
	}
	if inst.Op == x86asm.XCHG || inst.Op == x86asm.XADD || inst.Op == x86asm.CMPXCHG {
		if r, ok := reg64(inst.Args[1]); ok {
			delete(s.regs, r)
		}
	}
}

// ripTarget is the writable address a RIP-relative memory operand refers to.
func (s *x86Scan) ripTarget(a x86asm.Arg, next uint64) (uint64, bool) {
	m, ok := a.(x86asm.Mem)
	if !ok || m.Base != x86asm.RIP || m.Index != 0 {
		return 0, false
	}
	t := next + uint64(m.Disp)
	return t, s.writable(t)
}

// memTarget is the writable address a memory operand refers to: RIP-relative, or a
// register holding a known address (LEAQ sym(SB), DX; XCHGQ CX, 0(DX)).
func (s *x86Scan) memTarget(a x86asm.Arg, next uint64) (uint64, bool) {
	if t, ok := s.ripTarget(a, next); ok {
		return t, true
	}
	m, ok := a.(x86asm.Mem)
	if !ok || m.Index != 0 || m.Segment != 0 {
		return 0, false
	}
	base, ok := reg64(m.Base)
	if !ok || s.regs[base].addrOf == 0 {
		return 0, false
	}
	t := s.regs[base].addrOf + uint64(m.Disp)
	return t, s.writable(t)
}

// reg64 names the 64-bit register a 16-, 32- or 64-bit general register is part of.
func reg64(a x86asm.Arg) (x86asm.Reg, bool) {
	r, ok := a.(x86asm.Reg)
	if !ok {
		return 0, false
	}
	switch {
	case r >= x86asm.RAX && r <= x86asm.R15:
		return r, true
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return x86asm.RAX + (r - x86asm.EAX), true
	case r >= x86asm.AX && r <= x86asm.R15W:
		return x86asm.RAX + (r - x86asm.AX), true
	}
	return 0, false
}
