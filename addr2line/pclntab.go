package addr2line

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// pclntab magic numbers (internal/abi.PCLnTabMagic); only the Go 1.20 format
// is decoded, the others are recognised to say what is wrong.
const (
	magic12  = 0xfffffffb // Go 1.2 – 1.15
	magic116 = 0xfffffffa // Go 1.16 – 1.17
	magic118 = 0xfffffff0 // Go 1.18 – 1.19
	magic120 = 0xfffffff1 // Go 1.20 and later
)

// Indexes of the tables the inline unwinder needs (internal/abi).
const (
	pcdataInlTreeIndex = 2
	funcdataInlTree    = 3
)

// Sizes of the fixed records (runtime._func, runtime.functab,
// runtime.inlinedCall) in the Go 1.20 format.
const (
	funcHeaderSize  = 44
	functabSize     = 8
	inlinedCallSize = 16
)

var errOldPclntab = errors.New("unsupported pclntab format")

// pclntab is a decoded pcHeader with the tables it points at, all bounded
// by the bytes actually present.
type pclntab struct {
	order   binary.ByteOrder
	ptrSize int
	quantum uint64 // minLC: instruction size quantum
	nfunc   int
	offs    [5]uint64 // offsets from the header of the five tables below

	funcnames []byte
	cutab     []byte
	filetab   []byte
	pctab     []byte
	functab   []byte // runtime.pclntable: ftab, then the _func records
}

func parsePclntab(data []byte, order binary.ByteOrder) (*pclntab, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("pclntab header truncated (%d bytes)", len(data))
	}
	m := order.Uint32(data)
	if m != magic120 && m != magic118 && m != magic116 && m != magic12 {
		return nil, fmt.Errorf("bad pclntab magic %#x: not a Go executable, or a corrupt one", m)
	}
	t := &pclntab{order: order, quantum: uint64(data[6]), ptrSize: int(data[7])}
	if data[4] != 0 || data[5] != 0 || (t.quantum != 1 && t.quantum != 2 && t.quantum != 4) || (t.ptrSize != 4 && t.ptrSize != 8) {
		return nil, fmt.Errorf("corrupt pclntab header (pad %d %d, quantum %d, pointer size %d)", data[4], data[5], t.quantum, t.ptrSize)
	}
	switch m {
	case magic118:
		return nil, fmt.Errorf("%w: built by Go 1.18 or 1.19; rebuild the target with Go 1.20 or later", errOldPclntab)
	case magic116:
		return nil, fmt.Errorf("%w: built by Go 1.16 or 1.17; rebuild the target with Go 1.20 or later", errOldPclntab)
	case magic12:
		return nil, fmt.Errorf("%w: built by Go 1.15 or older; rebuild the target with Go 1.20 or later", errOldPclntab)
	}
	const nwords = 8 // nfunc, nfiles, textStart, funcname, cu, filetab, pctab, pcln
	if len(data) < 8+nwords*t.ptrSize {
		return nil, fmt.Errorf("pclntab header truncated (%d bytes)", len(data))
	}
	word := func(i int) uint64 {
		p := data[8+i*t.ptrSize:]
		if t.ptrSize == 4 {
			return uint64(order.Uint32(p))
		}
		return order.Uint64(p)
	}
	nfunc := word(0)
	offs := []uint64{word(3), word(4), word(5), word(6), word(7), uint64(len(data))}
	for i := 0; i+1 < len(offs); i++ {
		if offs[i] < 8+nwords*uint64(t.ptrSize) || offs[i] > offs[i+1] {
			return nil, fmt.Errorf("corrupt pclntab header: table offsets %#x out of order or past the end (%d bytes)", offs[:5], len(data))
		}
	}
	copy(t.offs[:], offs)
	t.funcnames = data[offs[0]:offs[1]]
	t.cutab = data[offs[1]:offs[2]]
	t.filetab = data[offs[2]:offs[3]]
	t.pctab = data[offs[3]:offs[4]]
	t.functab = data[offs[4]:]
	if nfunc >= uint64(len(t.functab))/functabSize {
		return nil, fmt.Errorf("corrupt pclntab: %d functions do not fit in %d bytes of function table", nfunc, len(t.functab))
	}
	t.nfunc = int(nfunc)
	return t, nil
}

// ftab returns entry i of the function table; i == nfunc is the end sentinel.
func (t *pclntab) ftab(i int) (entryOff, funcOff uint32) {
	p := t.functab[i*functabSize:]
	return t.order.Uint32(p), t.order.Uint32(p[4:])
}

// findFunc returns the index of the function containing the text offset
// off, as runtime.findfunc does: the last function starting at or before
// off, if off is before the end of the text.
func (t *pclntab) findFunc(off uint64) (int, bool) {
	if t.nfunc == 0 {
		return 0, false
	}
	end, _ := t.ftab(t.nfunc)
	first, _ := t.ftab(0)
	if off >= uint64(end) || off < uint64(first) {
		return 0, false
	}
	lo, hi := 0, t.nfunc // invariant: ftab(lo) <= off, answer in [lo, hi)
	for hi-lo > 1 {
		mid := int(uint(lo+hi) >> 1)
		if e, _ := t.ftab(mid); uint64(e) <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, true
}

// funcInfo is a decoded runtime._func record.
type funcInfo struct {
	entryOff  uint32
	nameOff   int32
	args      int32 // the size of the arguments on the stack
	pcsp      uint32
	pcfile    uint32
	pcln      uint32
	cuOffset  uint32
	npcdata   uint32
	nfuncdata uint32
	funcID    uint8
	tables    []byte // pcdata offsets, then funcdata offsets
}

func (t *pclntab) funcInfo(i int) (funcInfo, error) {
	_, off := t.ftab(i)
	if uint64(off) > uint64(len(t.functab)) || len(t.functab)-int(off) < funcHeaderSize {
		return funcInfo{}, fmt.Errorf("function record %d at offset %#x out of range", i, off)
	}
	p := t.functab[off:]
	o := t.order
	f := funcInfo{
		entryOff:  o.Uint32(p[0:]),
		nameOff:   int32(o.Uint32(p[4:])),
		args:      int32(o.Uint32(p[8:])),
		pcsp:      o.Uint32(p[16:]),
		pcfile:    o.Uint32(p[20:]),
		pcln:      o.Uint32(p[24:]),
		npcdata:   o.Uint32(p[28:]),
		cuOffset:  o.Uint32(p[32:]),
		funcID:    p[40],
		nfuncdata: uint32(p[43]),
	}
	n := (uint64(f.npcdata) + uint64(f.nfuncdata)) * 4
	if n > uint64(len(p)-funcHeaderSize) {
		return funcInfo{}, fmt.Errorf("function record %d: %d pcdata and %d funcdata run past the table", i, f.npcdata, f.nfuncdata)
	}
	f.tables = p[funcHeaderSize : funcHeaderSize+n]
	return f, nil
}

// pcdata returns the pctab offset of pcdata table k, or 0 if there is none.
func (t *pclntab) pcdata(f funcInfo, k uint32) uint32 {
	if k >= f.npcdata {
		return 0
	}
	return t.order.Uint32(f.tables[4*k:])
}

// funcdata returns the offset from moduledata.gofunc of funcdata k.
func (t *pclntab) funcdata(f funcInfo, k uint32) (uint32, bool) {
	if k >= f.nfuncdata {
		return 0, false
	}
	off := t.order.Uint32(f.tables[4*(f.npcdata+k):])
	return off, off != ^uint32(0)
}

// pcvalue decodes the pc-value table at pctab offset off for a function
// starting at entry, returning the value at targetpc, or -1 (as
// runtime.pcvalue does in non-strict mode).
func (t *pclntab) pcvalue(off uint32, entry, targetpc uint64) int32 {
	if off == 0 || uint64(off) >= uint64(len(t.pctab)) {
		return -1
	}
	p := t.pctab[off:]
	pc := entry
	val := int32(-1)
	first := true
	for {
		uvdelta, n := uvarint(p)
		if n <= 0 || (uvdelta == 0 && !first) {
			return -1
		}
		p = p[n:]
		pcdelta, n := uvarint(p)
		if n <= 0 {
			return -1
		}
		p = p[n:]
		first = false
		val += int32(-(uvdelta & 1) ^ (uvdelta >> 1))
		pc += uint64(pcdelta) * t.quantum
		if targetpc < pc {
			return val
		}
	}
}

// uvarint reads a runtime.readvarint value: little-endian base 128, at most
// 32 bits. It returns n <= 0 if p ends first or the value is too long.
func uvarint(p []byte) (uint32, int) {
	var v uint32
	for i := 0; i < len(p) && i < 5; i++ {
		b := p[i]
		v |= uint32(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, -1
}

// cstring returns the NUL-terminated string at off in tab, or "?" if off is
// out of range.
func cstring(tab []byte, off uint64) string {
	if off >= uint64(len(tab)) {
		return "?"
	}
	s := tab[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s)
}

// funcName returns the name at nameOff in the function name table. Unlike
// runtime.moduledata.funcName it does not take offset 0 to mean "no name":
// since Go 1.26 the first function of the text (internal/abi.BoundsDecode)
// has its name there, and the runtime prints it as "".
func (t *pclntab) funcName(nameOff int32) string {
	if nameOff < 0 {
		return "?"
	}
	return cstring(t.funcnames, uint64(nameOff))
}

// fileLine is runtime.funcline1: the file and line at targetpc in f.
func (t *pclntab) fileLine(f funcInfo, entry, targetpc uint64) (string, int) {
	fileno := t.pcvalue(f.pcfile, entry, targetpc)
	line := t.pcvalue(f.pcln, entry, targetpc)
	if fileno == -1 || line == -1 {
		return "?", 0
	}
	i := uint64(f.cuOffset) + uint64(uint32(fileno))
	if i >= uint64(len(t.cutab))/4 {
		return "?", int(line)
	}
	fileoff := t.order.Uint32(t.cutab[4*i:])
	if fileoff == ^uint32(0) {
		return "?", int(line)
	}
	return cstring(t.filetab, uint64(fileoff)), int(line)
}
