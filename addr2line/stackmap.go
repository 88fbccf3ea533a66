package addr2line

import "fmt"

// Indexes of the tables the garbage collector's stack scan reads (internal/abi, the same
// in Go 1.20 to 1.27).
const (
	pcdataStackMapIndex   = 1
	funcdataArgsPointers  = 0
	funcdataLocalsPointer = 1
	funcdataStackObjects  = 2
	argsSizeUnknown       = -0x80000000 // abi.ArgsSizeUnknown: reflect's stubs, assembly
	stackObjectRecordSize = 16          // runtime.stackObjectRecord
	maxStackMapBits       = 1 << 20     // words of one frame's map: bounds a bad table
	maxStackObjects       = 1 << 12
)

// FrameMaps is what the compiler recorded for a frame of one function at one PC: what the
// runtime's getStackMap reads (runtime/stkframe.go) to scan the frame precisely.
type FrameMaps struct {
	Entry   uint64 // the function's entry
	SPDelta int64  // the pcsp value: the frame's size below the caller's stack pointer
	// ArgsSize is the size of the arguments on the stack (above the return address).
	ArgsSize int64
	// ArgsUnknown says the function was declared without an argument size (assembly):
	// ArgsSize is 0, as the runtime takes it, and whatever the caller passed it lies
	// unmapped in the caller's outgoing argument space.
	ArgsUnknown bool
	// Locals says which words below the frame's locals base (varp) hold live pointers:
	// bit i is the word at varp - len*ptrSize + i*ptrSize. Args likewise from the
	// argument base (argp) up. Nil: the function has no such map (assembly).
	Locals, Args []bool
	// Objects are the frame's stack objects (address-taken variables) as offsets from
	// varp (negative) or argp (non-negative) and sizes in bytes.
	Objects []StackObject
}

// StackObject is a variable of a frame whose address is taken (runtime.stackObjectRecord).
type StackObject struct{ Off, Size int64 }

// FrameMaps returns the pointer maps of the frame of the function holding pc. pc is where
// the frame stands: a return address for a caller's frame, the resumption PC for a parked
// goroutine's innermost one (in both, the call before pc is what the maps describe).
// ok is false when the function has no maps (assembly, the runtime's own frames without
// them) or they cannot be read: the caller then scans the frame conservatively.
func (t *Table) FrameMaps(pc uint64) (m FrameMaps, err error) {
	f, entry, ok := t.findFunc(pc)
	if !ok {
		return m, fmt.Errorf("no function at %#x", pc)
	}
	m.Entry = entry
	d := t.tab.pcvalue(f.pcsp, entry, pc)
	if d < 0 {
		return m, fmt.Errorf("no frame size at %#x", pc)
	}
	m.SPDelta = int64(d)
	target := pc
	if target != entry {
		target-- // the CALL instruction
	}
	idx := t.tab.pcvalue(t.tab.pcdata(f, pcdataStackMapIndex), entry, target)
	if idx < 0 {
		idx = 0 // as the runtime: a prologue, hope for the best
	}
	if off, ok := t.tab.funcdata(f, funcdataLocalsPointer); ok {
		if m.Locals, err = t.stackMap(off, idx); err != nil {
			return m, fmt.Errorf("locals map at %#x: %w", pc, err)
		}
	}
	args := f.args
	if args == argsSizeUnknown {
		// As the runtime's argMapInternal: reflect's stubs carry their arguments' map
		// elsewhere; any other function of unknown argument size (assembly declared
		// without one: runtime.futex, the system call stubs) has none to scan.
		if name := t.tab.funcName(f.nameOff); name == "reflect.makeFuncStub" || name == "reflect.methodValueCall" {
			return m, fmt.Errorf("%#x is in %s, whose arguments' size is known only at run time", pc, name)
		}
		args, m.ArgsUnknown = 0, true
	}
	m.ArgsSize = int64(max(args, 0))
	if off, ok := t.tab.funcdata(f, funcdataArgsPointers); ok && args > 0 {
		if m.Args, err = t.stackMap(off, idx); err != nil {
			return m, fmt.Errorf("args map at %#x: %w", pc, err)
		}
	}
	if off, ok := t.tab.funcdata(f, funcdataStackObjects); ok {
		if m.Objects, err = t.stackObjects(off); err != nil {
			return m, fmt.Errorf("stack objects at %#x: %w", pc, err)
		}
	}
	return m, nil
}

// gofuncBytes is n bytes of go:func.* at offset off from moduledata.gofunc.
func (t *Table) gofuncBytes(off uint32, n uint64) ([]byte, bool) {
	addr := t.gofunc + uint64(off)
	if addr < t.rodataAt || addr-t.rodataAt > uint64(len(t.rodata)) || uint64(len(t.rodata))-(addr-t.rodataAt) < n {
		return nil, false
	}
	return t.rodata[addr-t.rodataAt:][:n], true
}

// stackMap decodes bitmap idx of the runtime.stackmap at off: {n, nbit int32; bytedata}.
func (t *Table) stackMap(off uint32, idx int32) ([]bool, error) {
	h, ok := t.gofuncBytes(off, 8)
	if !ok {
		return nil, fmt.Errorf("stackmap header out of range")
	}
	n, nbit := int32(t.tab.order.Uint32(h)), int32(t.tab.order.Uint32(h[4:]))
	if n <= 0 || idx >= n || nbit < 0 || nbit > maxStackMapBits {
		return nil, fmt.Errorf("stackmap %d of %d (%d bits)", idx, n, nbit)
	}
	per := uint64(nbit+7) / 8
	b, ok := t.gofuncBytes(off, 8+uint64(n)*per)
	if !ok {
		return nil, fmt.Errorf("stackmap bytes out of range")
	}
	bits := b[8+uint64(idx)*per:]
	out := make([]bool, nbit)
	for i := range out {
		out[i] = bits[i/8]>>(i%8)&1 != 0
	}
	return out, nil
}

// stackObjects decodes the stack object records at off: a uintptr count, then records of
// {off, size, ptrdata int32; gcdataoff uint32}.
func (t *Table) stackObjects(off uint32) ([]StackObject, error) {
	p := uint64(t.tab.ptrSize)
	h, ok := t.gofuncBytes(off, p)
	if !ok {
		return nil, fmt.Errorf("count out of range")
	}
	n := uint64(t.tab.order.Uint32(h))
	if p == 8 {
		n = t.tab.order.Uint64(h)
	}
	if n > maxStackObjects {
		return nil, fmt.Errorf("%d stack objects", n)
	}
	b, ok := t.gofuncBytes(off, p+n*stackObjectRecordSize)
	if !ok {
		return nil, fmt.Errorf("records out of range")
	}
	out := make([]StackObject, n)
	for i := range out {
		r := b[p+uint64(i)*stackObjectRecordSize:]
		out[i] = StackObject{Off: int64(int32(t.tab.order.Uint32(r))), Size: int64(int32(t.tab.order.Uint32(r[4:])))}
		if out[i].Size <= 0 {
			return nil, fmt.Errorf("stack object of %d bytes", out[i].Size)
		}
	}
	return out, nil
}
