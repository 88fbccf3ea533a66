package gstruct

import (
	"encoding/binary"

	"golang.org/x/arch/arm64/arm64asm"
)

// This file finds runtime variables in arm64 machine code, for executables without a
// symbol table (the file is not named *_arm64.go: it must build on every host). A global
// is reached through its 4 KiB page (ADRP) and an offset, and every Go release from 1.20
// to 1.27 compiles the two functions it reads in one of these shapes (checked by the tests
// against each release's symbols):
//
//	runtime.allgadd:
//	    ADRP allgs, R27; MOVD allgs+8(R27), R1      // 1.20: the slice header word by word
//	    ADRP allgs, R27; ADD $allgs, R27; LDP (R27), (R0, R1)   // 1.27: a pair load
//	    ...
//	    MOVD allgs+8(R27), R1                       // atomic.Storeuintptr(&allglen, len(allgs))
//	    ADRP allglen, R2; ADD $allglen, R2, R2
//	    STLR R1, (R2)
//
//	runtime.waitReason.String:
//	    CMPW $N, R2                                 // w >= waitReason(len(waitReasonStrings))
//	    ...
//	    ADRP waitReasonStrings, R3; ADD $waitReasonStrings, R3, R3
//
// arm64asm decodes and names each instruction; the immediates it keeps unexported
// (offsets of loads and stores, ADD's immediate) are taken from the instruction word,
// whose encodings are fixed by the architecture.

// arm64Reg is what a scan knows about a general register (X0–X30): the address it holds
// (ADRP, ADD) or the address of the word it was loaded from. Zero means unknown.
type arm64Reg struct{ addrOf, loadedFrom uint64 }

// arm64Scan walks one function's instructions like x86Scan.
type arm64Scan struct {
	codeRefs
	writable func(addr uint64) bool
	regs     [32]arm64Reg // by register number; 31 (SP/ZR) is never known
}

// scanARM64 decodes code (the function at pc, little-endian instruction words) and
// returns what it references. Undecodable words are skipped and forget every register;
// garbage gives an empty or meaningless scan, never a panic.
func scanARM64(pc uint64, code []byte, writable func(uint64) bool) *arm64Scan {
	s := &arm64Scan{writable: writable, codeRefs: codeRefs{words: map[uint64]bool{}}}
	for off := 0; off+4 <= len(code) && off/4 < maxScanInsts; off += 4 {
		w := binary.LittleEndian.Uint32(code[off:])
		inst, err := arm64asm.Decode(code[off : off+4])
		if err != nil {
			s.regs = [32]arm64Reg{}
			continue
		}
		s.step(inst.Op, w, pc+uint64(off))
		s.regs[31] = arm64Reg{}
	}
	return s
}

// Fields of an instruction word.
func rd(w uint32) int       { return int(w & 31) }       // Rd or Rt
func rn(w uint32) int       { return int(w >> 5 & 31) }  // Rn (base)
func rt2(w uint32) int      { return int(w >> 10 & 31) } // Rt2 of a pair
func imm12(w uint32) uint64 { return uint64(w >> 10 & 0xfff) }

// sext sign-extends the low bits of v.
func sext(v uint64, bits uint) int64 { return int64(v<<(64-bits)) >> (64 - bits) }

func (s *arm64Scan) step(op arm64asm.Op, w uint32, pc uint64) {
	// base is the known address in Rn plus off, if it is writable.
	base := func(off int64) (uint64, bool) {
		b := s.regs[rn(w)].addrOf
		if b == 0 {
			return 0, false
		}
		t := b + uint64(off)
		return t, s.writable(t)
	}
	switch {
	case op == arm64asm.ADRP && w&0x9f000000 == 0x90000000:
		page := sext(uint64(w>>5&0x7ffff)<<2|uint64(w>>29&3), 21) << 12
		s.regs[rd(w)] = arm64Reg{addrOf: pc&^0xfff + uint64(page)}
		return
	case op == arm64asm.ADD && w&0xff800000 == 0x91000000: // ADD Xd, Xn, #imm12{, LSL #12}
		imm := imm12(w) << (12 * (w >> 22 & 1))
		if b := s.regs[rn(w)].addrOf; b != 0 && rn(w) != 31 {
			t := b + imm
			s.regs[rd(w)] = arm64Reg{addrOf: t}
			if s.writable(t) {
				s.leas = append(s.leas, t)
			}
			return
		}
	case op == arm64asm.LDR && w&0xffc00000 == 0xf9400000: // LDR Xt, [Xn, #imm12*8]
		if t, ok := base(int64(imm12(w) << 3)); ok {
			s.words[t] = true
			s.regs[rd(w)] = arm64Reg{loadedFrom: t}
			return
		}
	case op == arm64asm.LDP && w&0xffc00000 == 0xa9400000: // LDP Xt, Xt2, [Xn, #imm7*8]
		if t, ok := base(sext(uint64(w>>15&0x7f), 7) << 3); ok {
			s.words[t], s.words[t+8] = true, true
			s.regs[rd(w)] = arm64Reg{loadedFrom: t}
			s.regs[rt2(w)] = arm64Reg{loadedFrom: t + 8}
			return
		}
		s.regs[rt2(w)] = arm64Reg{}
	case op == arm64asm.STR && w&0xffc00000 == 0xf9000000: // STR Xt, [Xn, #imm12*8]
		if t, ok := base(int64(imm12(w) << 3)); ok {
			s.words[t] = true
			s.stores = append(s.stores, codeStore{t, s.regs[rd(w)].loadedFrom})
		}
		return // writes memory only
	case op == arm64asm.STP && w&0xffc00000 == 0xa9000000: // STP Xt, Xt2, [Xn, #imm7*8]
		if t, ok := base(sext(uint64(w>>15&0x7f), 7) << 3); ok {
			s.words[t], s.words[t+8] = true, true
			s.stores = append(s.stores, codeStore{t, s.regs[rd(w)].loadedFrom}, codeStore{t + 8, s.regs[rt2(w)].loadedFrom})
		}
		return
	case op == arm64asm.STLR && w&0xfffffc00 == 0xc89ffc00: // STLR Xt, [Xn]
		if t, ok := base(0); ok {
			s.stores = append(s.stores, codeStore{t, s.regs[rd(w)].loadedFrom})
		}
		return
	case (op == arm64asm.CMP || op == arm64asm.SUBS) && w&0x7f80001f == 0x7100001f: // CMP Wn|Xn, #imm12
		s.cmpImm = append(s.cmpImm, int64(imm12(w)<<(12*(w>>22&1))))
		return // writes only flags
	case op == arm64asm.BL || op == arm64asm.BLR:
		if op == arm64asm.BL && w&0xfc000000 == 0x94000000 {
			target := pc + uint64(sext(uint64(w&0x3ffffff), 26)<<2)
			s.calls = append(s.calls, codeCall{target, s.regs[0].addrOf})
		}
		s.regs = [32]arm64Reg{}
		return
	case op == arm64asm.STRB || op == arm64asm.STRH || op == arm64asm.STUR || op == arm64asm.STLRB ||
		op == arm64asm.CBZ || op == arm64asm.CBNZ || op == arm64asm.TBZ || op == arm64asm.TBNZ ||
		op == arm64asm.B || op == arm64asm.BR || op == arm64asm.RET || op == arm64asm.NOP:
		return // write no register
	}
	// Anything else may write the register in bits 0-4: forget it.
	s.regs[rd(w)] = arm64Reg{}
	if op == arm64asm.LDP || op == arm64asm.LDPSW || op == arm64asm.LDAXP || op == arm64asm.LDXP {
		s.regs[rt2(w)] = arm64Reg{}
	}
}
