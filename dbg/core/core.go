package core

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"sync"

	"github.com/gorigin-dev/gorigin/dbg"
)

// Errors Open returns (wrapped, with what the user can do). All of them are bad input.
var (
	ErrNotCore      = dbg.NewInputError("not an ELF core file")
	ErrTruncated    = dbg.NewInputError("core file is truncated")
	ErrNoExecutable = dbg.NewInputError("executable not found")
	ErrMismatch     = dbg.NewInputError("executable does not match the core")
)

// maxNotes caps the size of one PT_NOTE segment gorigin reads (a thread's notes take a
// few KB; this allows tens of thousands of threads).
const maxNotes = 256 << 20

// Core is an opened core dump. It implements dbg.Target; it is safe for concurrent reads.
type Core struct {
	path    string
	f       *os.File
	size    int64
	order   binary.ByteOrder
	machine elf.Machine
	loads   []segment // PT_LOAD segments by address
	notes   notes

	exe       string        // the executable's path (given, or found from NT_FILE)
	readFiles []fileMapping // file mappings by address, to read what the core left out
	maps      []dbg.Mapping // Mappings(): the file mappings, the executable's named exe

	mu    sync.Mutex
	files map[string]*mappedFile // mapped files opened to read what the core left out
}

// segment is one PT_LOAD: [vaddr, vaddr+memsz) of which the first filesz bytes are in the
// core at off.
type segment struct {
	vaddr, memsz, filesz, off uint64
	flags                     elf.ProgFlag
}

// Open opens the core at corePath. exePath is the program that produced it; when empty it
// is found from the core's file mappings. The executable's build ID is checked against the
// copy of it in the core's memory.
func Open(corePath, exePath string) (*Core, error) {
	f, err := openRegular(corePath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("cannot read the core: %w", err)
		}
		return nil, fmt.Errorf("cannot read the core: %w: %w", err, ErrNotCore)
	}
	c := &Core{path: corePath, f: f, files: map[string]*mappedFile{}}
	if err := c.load(); err != nil {
		f.Close()
		return nil, err
	}
	if err := c.findExecutable(exePath); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// load reads the ELF header, the program headers and the notes.
func (c *Core) load() error {
	fi, err := c.f.Stat()
	if err != nil {
		return fmt.Errorf("open core: %w", err)
	}
	c.size = fi.Size()
	if err := checkHeader(c.f, c.path, c.size); err != nil {
		return err
	}
	ef, err := elf.NewFile(c.f)
	if err != nil {
		return fmt.Errorf("%s: %v: %w", c.path, err, ErrNotCore)
	}
	if ef.Class != elf.ELFCLASS64 {
		return dbg.Errorf(ErrNotCore, "%s is a 32-bit core: gorigin reads 64-bit cores only", c.path)
	}
	c.order, c.machine = ef.ByteOrder, ef.Machine
	var need uint64
	for _, p := range ef.Progs {
		if p.Type != elf.PT_LOAD && p.Type != elf.PT_NOTE {
			continue
		}
		end := p.Off + p.Filesz
		if end < p.Off || (p.Type == elf.PT_LOAD && p.Vaddr+p.Memsz < p.Vaddr) {
			return fmt.Errorf("%s: segment at %#x has impossible bounds: %w", c.path, p.Vaddr, ErrNotCore)
		}
		need = max(need, end)
		if p.Type == elf.PT_LOAD {
			c.loads = append(c.loads, segment{vaddr: p.Vaddr, memsz: p.Memsz, filesz: min(p.Filesz, p.Memsz), off: p.Off, flags: p.Flags})
		}
	}
	if need > uint64(c.size) {
		return fmt.Errorf("%s: its segments need %d bytes, the file has %d (the dump was cut short: a full disk, a core size limit (ulimit -c), or an interrupted copy): %w",
			c.path, need, c.size, ErrTruncated)
	}
	sort.Slice(c.loads, func(i, j int) bool { return c.loads[i].vaddr < c.loads[j].vaddr })
	if err := distinctNotes(ef.Progs); err != nil {
		return fmt.Errorf("%s: %w: %w", c.path, err, ErrNotCore)
	}
	for _, p := range ef.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		if p.Filesz > maxNotes {
			return fmt.Errorf("%s: a note segment of %d bytes, more than gorigin reads (%d): %w", c.path, p.Filesz, maxNotes, ErrNotCore)
		}
		b := make([]byte, p.Filesz)
		if _, err := c.f.ReadAt(b, int64(p.Off)); err != nil {
			return fmt.Errorf("read the notes of %s: %w", c.path, err)
		}
		if err := parseNotes(&c.notes, b, c.order, c.machine); err != nil {
			return fmt.Errorf("%s: %w: %w", c.path, err, ErrNotCore)
		}
	}
	if len(c.loads) == 0 {
		return fmt.Errorf("%s has no memory segments: %w", c.path, ErrNotCore)
	}
	return nil
}

// distinctNotes checks that no two PT_NOTE segments share bytes. The kernel, gcore and
// Delve write one; a core whose note headers point at the same bytes again and again
// would make gorigin decode them again and again (thousands of headers in a 1 MB core took
// 2 GB). With distinct segments, the notes decoded are at most the core's size.
func distinctNotes(progs []*elf.Prog) error {
	type span struct{ off, end uint64 }
	var notes []span
	for _, p := range progs {
		if p.Type == elf.PT_NOTE && p.Filesz > 0 {
			notes = append(notes, span{p.Off, p.Off + p.Filesz})
		}
	}
	sort.Slice(notes, func(i, j int) bool { return notes[i].off < notes[j].off })
	for i := 1; i < len(notes); i++ {
		if notes[i].off < notes[i-1].end {
			return fmt.Errorf("its note segments at bytes %d and %d overlap (a damaged or crafted core)", notes[i-1].off, notes[i].off)
		}
	}
	return nil
}

// checkHeader tells a core from other files before debug/elf parses it, so that the error
// says what the file is.
func checkHeader(r io.ReaderAt, path string, size int64) error {
	var h [64]byte
	n, _ := r.ReadAt(h[:], 0)
	if n < 4 || string(h[:4]) != elf.ELFMAG {
		return dbg.Errorf(ErrNotCore, "%s is not an ELF file (a core dump is one)", path)
	}
	if n < 20 {
		return fmt.Errorf("%s: %d bytes, shorter than an ELF header: %w", path, n, ErrTruncated)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if elf.Data(h[elf.EI_DATA]) == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	if typ := elf.Type(order.Uint16(h[16:])); typ != elf.ET_CORE {
		return dbg.Errorf(ErrNotCore, "%s is an ELF file of type %v, not a core (ET_CORE): for a running process use gorigin attach PID; pass the program with --exe and the core as the argument", path, typ)
	}
	if n < 64 {
		return fmt.Errorf("%s: %d bytes, shorter than an ELF header: %w", path, n, ErrTruncated)
	}
	if elf.Class(h[elf.EI_CLASS]) == elf.ELFCLASS64 {
		phoff, phentsize, phnum := order.Uint64(h[32:]), uint64(order.Uint16(h[54:])), uint64(order.Uint16(h[56:]))
		if end := phoff + phentsize*phnum; end < phoff || end > uint64(size) {
			return dbg.Errorf(ErrTruncated, "%s is truncated: its program headers end at byte %d, the file has %d (the dump was cut short or is damaged)", path, end, size)
		}
		shoff, shentsize, shnum := order.Uint64(h[40:]), uint64(order.Uint16(h[58:])), uint64(order.Uint16(h[60:]))
		if end := shoff + shentsize*shnum; shoff != 0 && (end < shoff || end > uint64(size)) {
			return dbg.Errorf(ErrTruncated, "%s is truncated: its section headers end at byte %d, the file has %d (the dump was cut short or is damaged)", path, end, size)
		}
	}
	return nil
}

// Pid is the process id of the process that dumped core (0 if the core does not say).
func (c *Core) Pid() int {
	if c.notes.pid > 0 {
		return c.notes.pid
	}
	if len(c.notes.threads) > 0 {
		return c.notes.threads[0].tid
	}
	return 0
}

// Command is the process's command name (NT_PRPSINFO), or "".
func (c *Core) Command() string { return c.notes.command }

// Exe is the path of the executable gorigin reads for this core.
func (c *Core) Exe() string { return c.exe }

// Mappings are the core's file mappings (NT_FILE); the executable's carry Exe() as their path.
func (c *Core) Mappings() ([]dbg.Mapping, error) { return c.maps, nil }

// Freeze does nothing: a core does not run.
func (c *Core) Freeze() error { return nil }

// Thaw does nothing.
func (c *Core) Thaw() error { return nil }

// Threads are the threads the core recorded, with their registers.
func (c *Core) Threads() ([]dbg.Thread, error) {
	out := make([]dbg.Thread, len(c.notes.threads))
	for i, t := range c.notes.threads {
		out[i] = dbg.Thread{TID: t.tid, PC: t.pc, SP: t.sp, BP: t.bp, FS: t.fs, Regs: t.regs}
	}
	return out, nil
}

// Close closes the core and the files opened to read from. It is safe to call more than once.
func (c *Core) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, mf := range c.files {
		if mf.f != nil {
			mf.f.Close()
		}
		delete(c.files, p)
	}
	if c.f == nil {
		return nil
	}
	err := c.f.Close()
	c.f = nil
	return err
}

var _ dbg.Target = (*Core)(nil)
