package core

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Note types gorigin reads (include/uapi/linux/elf.h, Delve's pkg/elfwriter).
const (
	ntPrstatus    = 1
	ntPrpsinfo    = 3
	ntAuxv        = 6
	ntFile        = 0x46494c45 // "FILE"
	ntDelveHeader = 0x444c5645 // "DLVE": Delve's dump header (pid and entry point)
)

// auxv keys (include/uapi/linux/auxvec.h).
const (
	atNull  = 0
	atPhdr  = 3
	atEntry = 9
)

// Caps on what a note may claim, so that a damaged core cannot make the parser allocate
// much more than the note itself holds.
const (
	maxFileEntries = 1 << 20
	maxPathLen     = 4096
)

// notes is what a core's PT_NOTE segments say about the process.
type notes struct {
	threads []thread
	pid     int    // NT_PRPSINFO pr_pid (or Delve's header), 0 if absent
	command string // NT_PRPSINFO pr_fname
	args    string // NT_PRPSINFO pr_psargs (truncated command line)
	auxv    map[uint64]uint64
	files   []fileMapping // NT_FILE, in the order the core lists them
	hasFile bool          // an NT_FILE note was present (it may list no file)
	entry   uint64        // the executable's entry point (AT_ENTRY or Delve's header), 0 if unknown
}

// thread is one NT_PRSTATUS.
type thread struct {
	tid            int
	pc, sp, bp, fs uint64
	regs           []uint64 // every general-purpose register, in pr_reg order
}

// fileMapping is one NT_FILE entry: [start, end) maps path from offset.
type fileMapping struct {
	start, end, offset uint64
	path               string
}

// errNote marks a malformed note section.
var errNote = errors.New("malformed note")

// parseNotes reads the notes of one PT_NOTE segment into n. machine picks the register
// layout of NT_PRSTATUS. It never panics and allocates no more than b can describe.
func parseNotes(n *notes, b []byte, order binary.ByteOrder, machine elf.Machine) error {
	for off := 0; len(b)-off >= 12; {
		namesz, descsz, typ := uint64(order.Uint32(b[off:])), uint64(order.Uint32(b[off+4:])), order.Uint32(b[off+8:])
		off += 12
		if namesz > uint64(len(b)-off) {
			return fmt.Errorf("%w: name of %d bytes at offset %d runs past the note segment", errNote, namesz, off)
		}
		name := string(bytes.TrimRight(b[off:off+int(namesz)], "\x00"))
		off += align4(int(namesz))
		if off > len(b) || descsz > uint64(len(b)-off) {
			return fmt.Errorf("%w: %q note of %d bytes runs past the note segment", errNote, name, descsz)
		}
		desc := b[off : off+int(descsz)]
		off += align4(int(descsz))
		if err := n.add(name, typ, desc, order, machine); err != nil {
			return err
		}
	}
	return nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// add decodes one note. Notes gorigin does not need are skipped; a note it needs that is
// too short to decode is an error.
func (n *notes) add(name string, typ uint32, desc []byte, order binary.ByteOrder, machine elf.Machine) error {
	// Standard notes are named "CORE"; Delve writes them with no name. Others ("LINUX":
	// register sets) reuse the same type numbers.
	if name == "Delve Header" && typ == ntDelveHeader {
		n.delveHeader(string(desc))
		return nil
	}
	if name != "CORE" && name != "" {
		return nil
	}
	switch typ {
	case ntPrstatus:
		th, err := prstatus(desc, order, machine)
		if err != nil {
			return err
		}
		n.threads = append(n.threads, th)
	case ntPrpsinfo:
		// amd64/arm64 elf_prpsinfo: ... pr_pid at 24, pr_fname[16] at 40, pr_psargs[80] at 56.
		if len(desc) < 136 {
			return fmt.Errorf("%w: NT_PRPSINFO of %d bytes, want 136", errNote, len(desc))
		}
		n.pid = int(int32(order.Uint32(desc[24:])))
		n.command = cString(desc[40:56])
		n.args = cString(desc[56:136])
	case ntAuxv:
		n.auxv = map[uint64]uint64{}
		for i := 0; i+16 <= len(desc); i += 16 {
			k, v := order.Uint64(desc[i:]), order.Uint64(desc[i+8:])
			if k == atNull {
				break
			}
			n.auxv[k] = v
		}
		if e := n.auxv[atEntry]; e != 0 {
			n.entry = e
		}
	case ntFile:
		files, err := fileNote(desc, order)
		if err != nil {
			return err
		}
		n.files, n.hasFile = files, true
	}
	return nil
}

// prstatus decodes a thread's id and registers from an elf_prstatus: pr_pid at 32 and
// pr_reg (the ptrace register set) at 112.
func prstatus(desc []byte, order binary.ByteOrder, machine elf.Machine) (thread, error) {
	const regOff = 112
	var th thread
	switch machine {
	case elf.EM_X86_64:
		// user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi
		// orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs.
		if len(desc) < regOff+27*8 {
			return th, fmt.Errorf("%w: NT_PRSTATUS of %d bytes, too short for amd64 registers", errNote, len(desc))
		}
		reg := func(i int) uint64 { return order.Uint64(desc[regOff+8*i:]) }
		th.bp, th.pc, th.sp, th.fs = reg(4), reg(16), reg(19), reg(21)
		th.regs = regs(reg, 27)
	case elf.EM_AARCH64:
		// user_pt_regs: x0..x30, sp, pc, pstate. The thread pointer is in NT_ARM_TLS.
		if len(desc) < regOff+34*8 {
			return th, fmt.Errorf("%w: NT_PRSTATUS of %d bytes, too short for arm64 registers", errNote, len(desc))
		}
		reg := func(i int) uint64 { return order.Uint64(desc[regOff+8*i:]) }
		th.bp, th.sp, th.pc = reg(29), reg(31), reg(32)
		th.regs = regs(reg, 33)
	default:
		if len(desc) < regOff {
			return th, fmt.Errorf("%w: NT_PRSTATUS of %d bytes", errNote, len(desc))
		}
	}
	th.tid = int(int32(order.Uint32(desc[32:])))
	return th, nil
}

// regs returns the first n registers of a pr_reg.
func regs(reg func(int) uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = reg(i)
	}
	return out
}

// fileNote decodes NT_FILE: count and page size, count (start, end, page offset) triples,
// then count NUL-terminated paths.
func fileNote(desc []byte, order binary.ByteOrder) ([]fileMapping, error) {
	if len(desc) < 16 {
		return nil, fmt.Errorf("%w: NT_FILE of %d bytes", errNote, len(desc))
	}
	count, page := order.Uint64(desc), order.Uint64(desc[8:])
	if count > maxFileEntries || count > uint64(len(desc)-16)/24 {
		return nil, fmt.Errorf("%w: NT_FILE claims %d mappings in %d bytes", errNote, count, len(desc))
	}
	if page == 0 || page&(page-1) != 0 || page > 1<<30 {
		return nil, fmt.Errorf("%w: NT_FILE page size %d", errNote, page)
	}
	files := make([]fileMapping, count)
	names := desc[16+24*count:]
	for i := range files {
		e := desc[16+24*i:]
		start, end, pgoff := order.Uint64(e), order.Uint64(e[8:]), order.Uint64(e[16:])
		if end < start || pgoff > (1<<63)/page {
			return nil, fmt.Errorf("%w: NT_FILE entry %d: [%#x, %#x) at page %d", errNote, i, start, end, pgoff)
		}
		nul := bytes.IndexByte(names, 0)
		if nul < 0 || nul > maxPathLen {
			return nil, fmt.Errorf("%w: NT_FILE path %d is not terminated", errNote, i)
		}
		files[i] = fileMapping{start: start, end: end, offset: pgoff * page, path: string(names[:nul])}
		names = names[nul+1:]
	}
	return files, nil
}

// delveHeader reads the pid and entry point from Delve's "Delve Header" note:
// "linux/amd64\n<version>\nTarget Pid: N\nEntry Point: 0x...\n".
func (n *notes) delveHeader(s string) {
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "Target Pid: "); ok && n.pid == 0 {
			if pid, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && pid > 0 {
				n.pid = pid
			}
		}
		if v, ok := strings.CutPrefix(line, "Entry Point: "); ok && n.entry == 0 {
			if e, err := strconv.ParseUint(strings.TrimSpace(v), 0, 64); err == nil {
				n.entry = e
			}
		}
	}
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
