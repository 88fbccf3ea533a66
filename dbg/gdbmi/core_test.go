package gdbmi

import (
	"bufio"
	"errors"
	"os"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/internal/mi"
)

// TestParseGDB13CoreTranscript parses a session captured from GDB 13.1 opening a kernel
// core of a position-independent Go 1.27 program (the commands OpenCore sends, a read,
// a failed read) and reads what OpenCore reads from it: the pid and the mappings.
func TestParseGDB13CoreTranscript(t *testing.T) {
	byToken := map[int64]mi.Record{}
	console := map[int64]string{} // stream output before each result, by its token
	var pending string
	for _, rec := range transcript(t, "testdata/gdb13-core.mi") {
		switch rec.Kind {
		case mi.KindConsole:
			pending += rec.Text
		case mi.KindResult:
			byToken[rec.Token], console[rec.Token], pending = rec, pending, ""
		}
	}
	if byToken[2].Class != "connected" || byToken[8].Class != "exit" {
		t.Errorf("target-select core / exit answers: %+v %+v", byToken[2], byToken[8])
	}
	g, _ := byToken[3].Results.List("groups")[0].(mi.Tuple)
	if g.String("pid") != "30784" {
		t.Errorf("list-thread-groups: %+v", byToken[3])
	}
	maps := ParseInfoProcMappings(console[4])
	if len(maps) != 8 {
		t.Fatalf("info proc mappings: %d mappings, want 8: %+v\n%s", len(maps), maps, console[4])
	}
	want := dbg.Mapping{Start: 0x558ef8a0e000, End: 0x558ef8d36000, Offset: 0x2ea000, Path: "/tmp/h5/fix127pie"}
	if maps[1] != want {
		t.Errorf("second mapping %+v, want %+v", maps[1], want)
	}
	mem := byToken[6].Results.List("memory")
	if len(mem) != 1 || mem[0].(mi.Tuple).String("contents") != "7f454c46020101000000000000000000" {
		t.Errorf("memory read answer: %+v", byToken[6])
	}
	if got := byToken[7]; got.Class != "error" || got.Results.String("msg") != "Unable to read memory." {
		t.Errorf("bad read answer: %+v", got)
	}
}

// transcript parses every line of a captured GDB session, failing the test on any that
// does not parse.
func transcript(t *testing.T, name string) []mi.Record {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var out []mi.Record
	for sc.Scan() {
		rec, err := mi.Parse(sc.Text())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// TestParseInfoProcMappings covers the layout with a Perms column (GDB 12+ on a live
// process, later GDBs on cores), anonymous mappings, paths with spaces and junk lines.
func TestParseInfoProcMappings(t *testing.T) {
	text := `process 1234
Mapped address spaces:

          Start Addr           End Addr       Size     Offset  Perms  objfile
            0x400000           0x401000     0x1000        0x0  r--p   /tmp/my prog
            0x401000           0x480000    0x7f000     0x1000  r-xp   /tmp/my prog
        0xc000000000       0xc004000000  0x4000000        0x0  rw-p   
      0x7ffd0000           0x7ffc0000     0x1000        0x0  rw-p   [backwards]
      0xnothex             0x1              0x1         0x0  rw-p   x
`
	got := ParseInfoProcMappings(text)
	want := []dbg.Mapping{
		{Start: 0x400000, End: 0x401000, Offset: 0, Perm: "r--p", Path: "/tmp/my prog"},
		{Start: 0x401000, End: 0x480000, Offset: 0x1000, Perm: "r-xp", Path: "/tmp/my prog"},
		{Start: 0xc000000000, End: 0xc004000000, Offset: 0, Perm: "rw-p"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mapping %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestOpenCoreRejects: missing files and a file GDB will not open as a core fail with a
// message, not a hang, and leave no GDB behind.
func TestOpenCoreRejects(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCore("/nonexistent/core", exe, CoreOptions{}); err == nil {
		t.Error("a missing core opened")
	}
	if _, err := OpenCore(exe, "", CoreOptions{}); err == nil {
		t.Error("a core without an executable opened")
	}
	if _, err := os.Stat("/usr/bin/gdb"); err != nil {
		t.Skip("gdb is not installed (.ci/run installs it)")
	}
	// The test binary itself is an ELF file but no core.
	_, err = OpenCore(exe, exe, CoreOptions{})
	if err == nil || !errors.Is(err, ErrCoreRefused) {
		t.Errorf("a non-core: got %v, want ErrCoreRefused", err)
	}
}
