package gstruct

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// objcopy runs GNU objcopy, skipping the test when it is missing.
func objcopy(t *testing.T, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("objcopy"); err != nil {
		t.Skip("objcopy (binutils) is not installed: .ci/run installs it")
	}
	if out, err := exec.Command("objcopy", args...).CombinedOutput(); err != nil {
		t.Fatalf("objcopy %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// splitDebug makes, in dir, a stripped copy of exe named name (objcopy --strip-all, with a
// .gnu_debuglink to the debug file when link is true) and its debug file debugName
// (objcopy --only-keep-debug), the way distributions ship binaries.
func splitDebug(t *testing.T, exe, dir, name, debugName string, link bool) (stripped, debug string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(debugName)), 0o755); err != nil {
		t.Fatal(err)
	}
	stripped, debug = filepath.Join(dir, name), filepath.Join(dir, debugName)
	objcopy(t, "--only-keep-debug", exe, debug)
	args := []string{"--strip-all", exe, stripped}
	if link {
		args = append(args, "--add-gnu-debuglink="+debug)
	}
	objcopy(t, args...)
	if hasDWARF(openELF(t, stripped)) || !hasDWARF(openELF(t, debug)) {
		t.Fatalf("objcopy left DWARF in %s or none in %s", stripped, debug)
	}
	return stripped, debug
}

// TestDebugFile opens stripped copies of the fixture with their debug files given or in
// each place they are looked for, and requires the layout and runtime variables of the
// unstripped build, taken from the debug file's DWARF and symbols.
func TestDebugFile(t *testing.T) {
	full := buildFixture(t, "local")
	withGNUID := buildFixture(t, "local", "-ldflags=-B 0x0123456789abcdef0123")
	noIDs := buildFixture(t, "local", "-ldflags=-buildid=")
	tests := []struct {
		name string
		exe  string
		// make returns the stripped executable and the debug file it must use, in dir.
		make     func(t *testing.T, exe, dir string) (string, string)
		explicit bool
	}{
		{"--debug-file", full, func(t *testing.T, exe, dir string) (string, string) {
			return splitDebug(t, exe, dir, "app", "elsewhere/symbols", false)
		}, true},
		{"next to it: app.debug", full, func(t *testing.T, exe, dir string) (string, string) {
			return splitDebug(t, exe, dir, "app", "app.debug", false)
		}, false},
		{"in .debug: .debug/app.debug", full, func(t *testing.T, exe, dir string) (string, string) {
			return splitDebug(t, exe, dir, "app", ".debug/app.debug", false)
		}, false},
		{"named by .gnu_debuglink", full, func(t *testing.T, exe, dir string) (string, string) {
			return splitDebug(t, exe, dir, "app", "app-1.2.dbg", true)
		}, false},
		{"by GNU build ID under the debug directory", withGNUID, func(t *testing.T, exe, dir string) (string, string) {
			debugRoot = filepath.Join(dir, "usr-lib-debug")
			return splitDebug(t, exe, dir, "app", "usr-lib-debug/.build-id/01/23456789abcdef0123.debug", false)
		}, false},
		{"no build IDs: the debug link's CRC", noIDs, func(t *testing.T, exe, dir string) (string, string) {
			return splitDebug(t, exe, dir, "app", "app.debug", true)
		}, false},
	}
	defer func(root string) { debugRoot = root }(debugRoot)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := Open(tc.exe)
			if err != nil {
				t.Fatal(err)
			}
			stripped, debug := tc.make(t, tc.exe, t.TempDir())
			if bare, err := Open(stripped + "-nothing"); err == nil {
				t.Fatalf("Open of a missing file: %v", bare)
			}
			var opt OpenOptions
			if tc.explicit {
				opt.DebugFile = debug
			}
			r, err := OpenWith(stripped, opt)
			if err != nil {
				t.Fatalf("OpenWith: %v", err)
			}
			if src := "DWARF, symbols from " + debug; r.Source() != src {
				t.Errorf("Source() = %q, want %q", r.Source(), src)
			}
			if !reflect.DeepEqual(r.l, want.l) {
				t.Errorf("layout %+v, the unstripped build's %+v", r.l, want.l)
			}
			if r.allgs != want.allgs || r.allglen != want.allglen || r.waitReasonStrings != want.waitReasonStrings || r.GoVersion() != want.GoVersion() {
				t.Errorf("variables %#x %#x %#x %s, the unstripped build's %#x %#x %#x %s", r.allgs, r.allglen, r.waitReasonStrings, r.GoVersion(),
					want.allgs, want.allglen, want.waitReasonStrings, want.GoVersion())
			}
		})
	}
}

// TestDebugFileMismatch gives stripped executables debug files that are not theirs.
func TestDebugFileMismatch(t *testing.T) {
	dir := t.TempDir()
	stripped, _ := splitDebug(t, buildFixture(t, "local"), dir, "app", "app.dbg", false)
	_, otherDebug := splitDebug(t, buildFixture(t, "local", "-ldflags=-X main.unused=1"), dir, "other", "other.dbg", false)
	noIDs, _ := splitDebug(t, buildFixture(t, "local", "-ldflags=-buildid="), dir, "noids", "noids.dbg", true)
	_, noIDsOther := splitDebug(t, buildFixture(t, "local", "-ldflags=-buildid= -X main.unused=1"), dir, "noids2", "noids2.dbg", false)
	tests := []struct {
		name, exe, debug, want string
	}{
		{"another build's", stripped, otherDebug, " build ID is "},
		{"another build's, no build IDs", noIDs, noIDsOther, "its CRC-32 is"},
		{"a stripped file: no DWARF", stripped, stripped, "has no DWARF"},
		{"missing", stripped, filepath.Join(dir, "nope.debug"), "no such file"},
		{"not ELF", stripped, "debugfile_test.go", "bad magic"},
		{"another architecture", stripped, buildFixtureEnv(t, "local", []string{"GOARCH=arm64"}), "it is for ELFCLASS64 EM_AARCH64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenWith(tc.exe, OpenOptions{DebugFile: tc.debug})
			if !errors.Is(err, ErrDebugFile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("OpenWith: %v; want ErrDebugFile saying %q", err, tc.want)
			}
		})
	}

	// A debug file found next to the executable but of another build is passed over:
	// the executable opens as a stripped one, and Source says what was ignored.
	if err := os.Rename(otherDebug, stripped+".debug"); err != nil {
		t.Fatal(err)
	}
	r, err := Open(stripped)
	if err != nil {
		t.Fatalf("Open with a stale debug file next to it: %v", err)
	}
	if want := "(" + stripped + ".debug ignored: another build's)"; !strings.HasPrefix(r.Source(), "built-in layout") || !strings.HasSuffix(r.Source(), want) {
		t.Errorf("Source() = %q, want a built-in layout and %q", r.Source(), want)
	}
}

// TestDebugFileNewerGo: a stripped executable of a Go release newer than the built-in
// layouts opens with its debug file's DWARF, and says what to do without it.
func TestDebugFileNewerGo(t *testing.T) {
	exe := withGoVersion(t, buildFixture(t, "local"), "go1.28.0")
	stripped, debug := splitDebug(t, exe, t.TempDir(), "app", "symbols", false)
	if _, err := Open(stripped); !errors.Is(err, ErrStripped) || !strings.Contains(err.Error(), "this binary is go1.28.0") {
		t.Errorf("Open without the debug file: %v, want ErrStripped", err)
	}
	r, err := OpenWith(stripped, OpenOptions{DebugFile: debug})
	if err != nil || r.GoVersion() != "go1.28.0" || !strings.HasPrefix(r.Source(), "DWARF") {
		t.Fatalf("OpenWith the debug file: %v, %v", r, err)
	}
}

// FuzzParseNotes feeds garbage to the ELF note parser: no panic, and every descriptor it
// reports lies inside the input.
func FuzzParseNotes(f *testing.F) {
	f.Add([]byte("\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67\x89\xab\xcd\xef\x01\x23\x45\x67"))
	f.Add([]byte("\x03\x00\x00\x00\x05\x00\x00\x00\x04\x00\x00\x00Go\x00\x00abcde\x00\x00\x00"))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		total := 0
		parseNotes(data, binary.LittleEndian, func(name string, typ uint32, desc []byte) {
			total += len(name) + len(desc)
			if total > len(data) {
				t.Fatalf("notes add up to more than the %d input bytes", len(data))
			}
		})
	})
}
