package delve

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/go-delve/delve/pkg/proc"
	"github.com/go-delve/delve/pkg/proc/core"

	"github.com/gorigin-dev/gorigin/dbg"
)

// Core is a core dump opened by Delve's core backend (kernel cores, gcore's and Delve's own
// dump format). Memory is read through Delve; the mappings gorigin needs (where the
// executable was loaded) are the executable's segments at the load address Delve found.
type Core struct {
	path, exe string
	pid       int
	mu        sync.Mutex
	grp       *proc.TargetGroup
	tgt       *proc.Target
	maps      []dbg.Mapping
}

var _ dbg.Target = (*Core)(nil)

// ErrCoreFormat says Delve could not read the file as a core.
var ErrCoreFormat = dbg.NewInputError("not a core file Delve can read")

// OpenCore opens corePath, written by exePath, with Delve's core backend.
func OpenCore(corePath, exePath string) (*Core, error) {
	if exePath == "" {
		return nil, fmt.Errorf("open core %s with delve: the executable is needed: pass --exe", corePath)
	}
	for _, p := range []string{corePath, exePath} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("open core %s with delve: %w", corePath, err)
		}
	}
	grp, err := openCore(corePath, exePath)
	if err != nil {
		return nil, err
	}
	c := &Core{path: corePath, exe: exePath, grp: grp, tgt: grp.Selected}
	if c.tgt == nil {
		grp.Detach(false)
		return nil, fmt.Errorf("open core %s with delve: no process in it: %w", corePath, ErrCoreFormat)
	}
	c.pid = c.tgt.Pid()
	bi := c.tgt.BinInfo()
	if len(bi.Images) == 0 {
		grp.Detach(false)
		return nil, fmt.Errorf("open core %s with delve: it found no executable image", corePath)
	}
	if c.maps, err = segmentMappings(exePath, bi.Images[0].StaticBase); err != nil {
		grp.Detach(false)
		return nil, fmt.Errorf("open core %s with delve: %w", corePath, err)
	}
	return c, nil
}

// openCore calls Delve, turning a panic on a malformed file into an error.
func openCore(corePath, exePath string) (grp *proc.TargetGroup, err error) {
	defer func() {
		if r := recover(); r != nil {
			grp, err = nil, fmt.Errorf("open core %s with delve: Delve failed on it (%v): %w", corePath, r, ErrCoreFormat)
		}
	}()
	grp, err = core.OpenCore(corePath, exePath, nil)
	if err != nil {
		if errors.Is(err, core.ErrUnrecognizedFormat) || errors.Is(err, core.ErrNoThreads) {
			return nil, fmt.Errorf("open core %s with delve: %v: %w", corePath, err, ErrCoreFormat)
		}
		return nil, fmt.Errorf("open core %s with delve (is %s the program that dumped it?): %w", corePath, exePath, err)
	}
	return grp, nil
}

// segmentMappings describes the executable's loadable segments as mapped at bias.
func segmentMappings(exePath string, bias uint64) ([]dbg.Mapping, error) {
	f, err := elf.Open(exePath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var maps []dbg.Mapping
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Filesz == 0 {
			continue
		}
		pageOff := p.Off &^ 0xfff
		start := p.Vaddr + bias - (p.Off - pageOff)
		perm := []byte("---p")
		if p.Flags&elf.PF_R != 0 {
			perm[0] = 'r'
		}
		if p.Flags&elf.PF_W != 0 {
			perm[1] = 'w'
		}
		if p.Flags&elf.PF_X != 0 {
			perm[2] = 'x'
		}
		maps = append(maps, dbg.Mapping{Start: start, End: p.Vaddr + bias + p.Memsz, Offset: pageOff, Perm: string(perm), Path: exePath})
	}
	return maps, nil
}

// Pid is the process id recorded in the core.
func (c *Core) Pid() int { return c.pid }

// Exe is the executable the core was opened with.
func (c *Core) Exe() string { return c.exe }

// Mappings are the executable's segments where Delve says it was loaded.
func (c *Core) Mappings() ([]dbg.Mapping, error) { return c.maps, nil }

// ReadBatch reads through Delve's core memory.
func (c *Core) ReadBatch(regions []dbg.Region) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tgt == nil {
		return fmt.Errorf("read core %s: closed", c.path)
	}
	return readEach(c.tgt.Memory(), regions)
}

// Freeze does nothing: a core does not run.
func (c *Core) Freeze() error { return nil }

// Thaw does nothing.
func (c *Core) Thaw() error { return nil }

// Threads are the threads Delve found in the core, with their registers.
func (c *Core) Threads() ([]dbg.Thread, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tgt == nil {
		return nil, fmt.Errorf("threads of core %s: closed", c.path)
	}
	var out []dbg.Thread
	for _, th := range c.tgt.ThreadList() {
		t := dbg.Thread{TID: th.ThreadID()}
		if regs, err := th.Registers(); err == nil {
			t.PC, t.SP, t.BP, t.FS = regs.PC(), regs.SP(), regs.BP(), regs.TLS()
		}
		out = append(out, t)
	}
	return out, nil
}

// Close releases Delve's core. It is idempotent.
func (c *Core) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.grp == nil {
		return nil
	}
	err := c.grp.Detach(false)
	c.grp, c.tgt = nil, nil
	return err
}
