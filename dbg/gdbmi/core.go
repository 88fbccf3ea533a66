package gdbmi

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/internal/mi"
)

// CoreOptions tune a Core.
type CoreOptions struct {
	// GDB is the gdb executable ("" = gdb on PATH).
	GDB string
	// Timeout bounds every MI command (0 = DefaultTimeout).
	Timeout time.Duration
}

// Core is a core dump GDB has opened (target core) with the executable that wrote it:
// memory comes from GDB's -data-read-memory-bytes (the core's segments, and the
// executable's file for what the core left out), the mappings from GDB's "info proc
// mappings" (the core's NT_FILE note). Its methods are safe for concurrent use.
type Core struct {
	path, exe string
	pid       int
	opts      CoreOptions
	c         *mi.Client
	maps      []dbg.Mapping

	mu     sync.Mutex
	closed bool
}

var _ dbg.Target = (*Core)(nil)

// ErrCoreRefused says GDB would not open the file as a core of the executable.
var ErrCoreRefused = dbg.NewInputError("gdb cannot open it as a core of that executable")

// OpenCore starts GDB on exePath and opens corePath as its core. Neither file is trusted:
// GDB runs with auto-load off, so nothing either embeds is executed.
func OpenCore(corePath, exePath string, opts CoreOptions) (*Core, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if exePath == "" {
		return nil, fmt.Errorf("open core %s with gdb: the executable is needed: pass --exe", corePath)
	}
	for _, p := range []string{corePath, exePath} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("open core %s with gdb: %w", corePath, err)
		}
	}
	cl, err := mi.Start(mi.Options{Path: opts.GDB})
	if err != nil {
		return nil, err
	}
	c := &Core{path: corePath, exe: exePath, opts: opts, c: cl}
	if err := c.open(); err != nil {
		cl.Close(time.Second)
		return nil, fmt.Errorf("open core %s with gdb: %w", corePath, err)
	}
	return c, nil
}

// run runs a command of the opening (GDB starts and reads the core meanwhile): it gets at
// least StartupTimeout.
func (c *Core) run(cmd string) (mi.Record, string, error) {
	return c.c.Run(context.Background(), max(c.opts.Timeout, StartupTimeout), cmd)
}

// open loads the executable (without its symbols: gorigin reads them itself), opens the
// core, and asks GDB for the process id and the file mappings.
func (c *Core) open() error {
	if _, _, err := c.run("-file-exec-file " + mi.Quote(c.exe)); err != nil {
		return fmt.Errorf("load the executable %s: %w", c.exe, err)
	}
	if _, out, err := c.run("-target-select core " + mi.Quote(c.path)); err != nil {
		var ge *mi.Error
		if errors.As(err, &ge) {
			return fmt.Errorf("%s %s: %w", ge.Msg, strings.TrimSpace(out), ErrCoreRefused)
		}
		return err
	}
	rec, _, err := c.run("-list-thread-groups")
	if err != nil {
		return fmt.Errorf("list the core's process: %w", err)
	}
	for _, v := range rec.Results.List("groups") {
		if g, ok := v.(mi.Tuple); ok && g.String("pid") != "" {
			c.pid, _ = strconv.Atoi(g.String("pid"))
			break
		}
	}
	if c.pid <= 0 {
		return fmt.Errorf("gdb found no process in it: %w", ErrCoreRefused)
	}
	_, out, err := c.run(`-interpreter-exec console "info proc mappings"`)
	if err != nil {
		return fmt.Errorf("read the core's mappings: %w", err)
	}
	c.maps = ParseInfoProcMappings(out)
	if len(c.maps) == 0 {
		return fmt.Errorf("gdb lists no file mappings in it (no NT_FILE note?): %w", ErrCoreRefused)
	}
	return nil
}

// ParseInfoProcMappings parses the output of GDB's "info proc mappings" on a core or a
// process: "Start Addr End Addr Size Offset [Perms] objfile" rows (GDB 13 prints no
// Perms column for a core; later versions do). Other lines are skipped.
func ParseInfoProcMappings(text string) []dbg.Mapping {
	var out []dbg.Mapping
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "0x") {
			continue
		}
		start, err1 := strconv.ParseUint(f[0], 0, 64)
		end, err2 := strconv.ParseUint(f[1], 0, 64)
		off, err3 := strconv.ParseUint(f[3], 0, 64)
		if err1 != nil || err2 != nil || err3 != nil || end < start {
			continue
		}
		m := dbg.Mapping{Start: start, End: end, Offset: off}
		rest := f[4:]
		if len(rest) > 0 && isPerm(rest[0]) {
			m.Perm, rest = rest[0], rest[1:]
		}
		m.Path = strings.Join(rest, " ")
		out = append(out, m)
	}
	return out
}

func isPerm(s string) bool {
	if len(s) != 4 {
		return false
	}
	for i, ok := range []string{"r-", "w-", "x-", "ps"} {
		if !strings.ContainsRune(ok, rune(s[i])) {
			return false
		}
	}
	return true
}

// Pid is the process id recorded in the core.
func (c *Core) Pid() int { return c.pid }

// Exe is the executable the core was opened with.
func (c *Core) Exe() string { return c.exe }

// GDBPid is the process id of the GDB this Core drives.
func (c *Core) GDBPid() int { return c.c.Pid() }

// Mappings are the core's file mappings as GDB lists them.
func (c *Core) Mappings() ([]dbg.Mapping, error) { return c.maps, nil }

// Freeze does nothing: a core does not run.
func (c *Core) Freeze() error { return nil }

// Thaw does nothing.
func (c *Core) Thaw() error { return nil }

// ReadBatch reads every region with -data-read-memory-bytes.
func (c *Core) ReadBatch(regions []dbg.Region) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("read core %s: gdb was closed", c.path)
	}
	return readBatch(c.c, c.opts.Timeout, "core "+c.path, regions)
}

// Threads are the threads GDB found in the core, with their PCs.
func (c *Core) Threads() ([]dbg.Thread, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return threads(c.c, c.opts.Timeout, "core "+c.path)
}

// Close ends GDB. It is idempotent.
func (c *Core) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.c.Close(2 * time.Second)
}
