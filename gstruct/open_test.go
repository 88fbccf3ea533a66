package gstruct

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
	"github.com/gorigin-dev/gorigin/internal/goversion"
)

func TestOpenErrors(t *testing.T) {
	text := filepath.Join(t.TempDir(), "script.sh")
	if err := os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		exe      func(t *testing.T) string
		wantIs   error
		wantText string
	}{
		{"missing file", func(*testing.T) string { return "/nonexistent/app" }, fs.ErrNotExist, "open executable"},
		{"not an ELF file", func(*testing.T) string { return text }, dbg.ErrNotGo, "is not a Go program"},
		{"a C program", func(t *testing.T) string { return cProgram(t) }, dbg.ErrNotGo, "no runtime.allgs"},
		{"stripped Go newer than the built-in layouts", func(t *testing.T) string {
			return withGoVersion(t, buildFixture(t, "local", "-ldflags=-s -w"), "go1.28.0")
		}, ErrStripped, "built-in layouts cover Go 1.20–1.27; this binary is go1.28.0: build it with DWARF (without -ldflags=-w) or use a newer gorigin"},
		{"stripped riscv64 Go", func(t *testing.T) string {
			return buildFixtureEnv(t, "local", []string{"GOARCH=riscv64"}, "-ldflags=-s -w")
		}, ErrStripped, "gorigin has no built-in runtime layouts for riscv64 executables"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(tc.exe(t))
			if err == nil {
				t.Fatalf("Open succeeded (Go %s)", r.GoVersion())
			}
			if !errors.Is(err, tc.wantIs) || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("Open: %v; want an error wrapping %v that says %q", err, tc.wantIs, tc.wantText)
			}
		})
	}
}

// TestOpenStripped opens the fixture built with and without symbols and DWARF, and checks
// that Open says where the layout and the variables came from, and that the built-in
// layout is the one the DWARF of the same build describes.
func TestOpenStripped(t *testing.T) {
	full, err := Open(buildFixture(t, "local"))
	if err != nil {
		t.Fatal(err)
	}
	minor := strconv.Itoa(int(goversion.Parse(full.GoVersion())))
	tests := []struct {
		ldflags, source string
	}{
		{"", "DWARF, symbols"},
		{"-w", "built-in layout go1." + minor + ", symbols"},
		{"-s -w=0", "DWARF, runtime variables found in machine code"}, // -s alone implies -w since Go 1.22
		{"-s -w", "built-in layout go1." + minor + ", runtime variables found in machine code"},
	}
	for _, tc := range tests {
		t.Run("ldflags="+tc.ldflags, func(t *testing.T) {
			r, err := Open(buildFixture(t, "local", "-ldflags="+tc.ldflags))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if r.Source() != tc.source {
				t.Errorf("Source() = %q, want %q", r.Source(), tc.source)
			}
			if !reflect.DeepEqual(r.l, full.l) {
				t.Errorf("layout %+v, the DWARF of the unstripped build says %+v", r.l, full.l)
			}
			if r.GoVersion() != full.GoVersion() {
				t.Errorf("GoVersion %q, want %q", r.GoVersion(), full.GoVersion())
			}
		})
	}
	// DWARF wins over the built-in table: a version the table does not know still opens.
	r, err := Open(withGoVersion(t, buildFixture(t, "local", "-ldflags=-s -w=0"), "go1.28.0"))
	if err != nil || r.Source() != "DWARF, runtime variables found in machine code" {
		t.Errorf("Open of a go1.28.0 binary with DWARF: %v, %v", r, err)
	}
}

// withGoVersion copies exe with the Go version in its build info replaced by one of the
// same length.
func withGoVersion(t *testing.T, exe, version string) string {
	t.Helper()
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(exe)
	if err != nil || len(bi.GoVersion) != len(version) {
		t.Fatalf("build info %v, %v: cannot put %s in place of its version", bi, err, version)
	}
	i := bytes.Index(data, []byte("\xff Go buildinf:"))
	j := bytes.Index(data[i:], []byte(bi.GoVersion))
	if i < 0 || j < 0 || j > 64 {
		t.Fatalf("no Go version %s after the build info magic", bi.GoVersion)
	}
	copy(data[i+j:], version)
	out := filepath.Join(t.TempDir(), "patched")
	if err := os.WriteFile(out, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if bi, err := buildinfo.ReadFile(out); err != nil || bi.GoVersion != version {
		t.Fatalf("patched build info: %v, %v", bi, err)
	}
	return out
}

// cProgram finds an ELF executable of this machine that is not a Go program.
func cProgram(t *testing.T) string {
	for _, p := range []string{"/bin/true", "/usr/bin/true", "/bin/sh"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		f.Close()
		return p
	}
	t.Skip("no non-Go ELF executable found in /bin or /usr/bin")
	return ""
}

// TestLayoutPerVersion checks what the Go sources of each release say about runtime.g and
// its constants against what Open learns from the DWARF of a program that release built.
func TestLayoutPerVersion(t *testing.T) {
	statuses := map[uint32]string{0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting",
		5: "unknown", 6: "dead", 7: "unknown", 8: "copystack", 9: "preempted"}
	statuses126 := map[uint32]string{10: "leaked", 11: "dead"} // _Gleaked, _Gdeadextra
	for k, v := range statuses {
		statuses126[k] = v
	}
	for _, tc := range toolchains {
		t.Run(tc, func(t *testing.T) {
			r, err := Open(buildFixture(t, tc))
			if err != nil {
				t.Fatal(err)
			}
			minor := goversion.Parse(r.GoVersion())
			if tc != "local" && r.GoVersion() != tc {
				t.Errorf("GoVersion = %q, want %q", r.GoVersion(), tc)
			}
			l := r.l
			want := statuses
			if minor >= 26 {
				want = statuses126
			}
			if !reflect.DeepEqual(l.statuses, want) || l.gscan != 0x1000 || l.gwaiting != 4 {
				t.Errorf("statuses %v, scan %#x, waiting %d; want %v, 0x1000, 4", l.statuses, l.gscan, l.gwaiting, want)
			}
			if l.parentGoid.present() != (minor >= 21) {
				t.Errorf("parentGoid present = %v in Go 1.%d", l.parentGoid.present(), minor)
			}
			if wantForm := map[bool]labelForm{true: labelsMap, false: labelsSlice}[minor < 24]; l.labelMap.form != wantForm {
				t.Errorf("label form %d, want %d", l.labelMap.form, wantForm)
			}
			if minor < 24 && !reflect.DeepEqual(l.labelMap, classicMapLayout(8)) {
				t.Errorf("map layout from DWARF %+v differs from the computed one %+v", l.labelMap, classicMapLayout(8))
			}
			for name, f := range map[string]field{"goid": l.goid, "waitsince": l.waitsince, "gopc": l.gopc,
				"startpc": l.startpc, "labels": l.labels, "stack.lo": l.stackLo, "sched.sp": l.schedSP} {
				if f.size != 8 {
					t.Errorf("%s is %d bytes, want 8", name, f.size)
				}
			}
			if l.status.size != 4 || l.waitreason.size != 1 || !l.schedBP.present() {
				t.Errorf("atomicstatus %d bytes, waitreason %d bytes, sched.bp present %v; want 4, 1, true",
					l.status.size, l.waitreason.size, l.schedBP.present())
			}
			if l.waitReasonCount < 30 || l.waitReasonCount > maxWaitReasons {
				t.Errorf("%d wait reasons", l.waitReasonCount)
			}
			t.Logf("%s: g %d bytes, goid@%d status@%d waitreason@%d parentGoid@%v gopc@%d startpc@%d labels@%d lockedm@%d, %d wait reasons",
				r.GoVersion(), l.gSize, l.goid.off, l.status.off, l.waitreason.off, l.parentGoid, l.gopc.off, l.startpc.off,
				l.labels.off, l.lockedm.off, l.waitReasonCount)
		})
	}
}
