package runtimegdb

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// fakeRoot makes a GOROOT of version v holding a runtime-gdb.py.
func fakeRoot(t *testing.T, dir, v string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "src", "runtime"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "VERSION"), []byte(v+"\ntime 2026-01-01\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "src", "runtime", "runtime-gdb.py"), []byte("# "+v+"\n"), 0o644)
	return dir
}

func TestFindOrder(t *testing.T) {
	tmp := t.TempDir()
	target := fakeRoot(t, filepath.Join(tmp, "target"), "go1.22.12")
	local := fakeRoot(t, filepath.Join(tmp, "local"), "go1.22.12")
	cache := filepath.Join(tmp, "cache")
	fakeRoot(t, toolchainDir(cache, "go1.22.12"), "go1.22.12")
	other := fakeRoot(t, filepath.Join(tmp, "other"), "go1.26.8")
	noGo := Options{GoCmd: "/nonexistent/go"}

	cases := []struct {
		name, version, targetRoot, local, cache, wantFrom string
	}{
		{"the target's GOROOT first", "go1.22.12", target, local, cache, "target GOROOT"},
		{"the local toolchain when the target's GOROOT is unknown", "go1.22.12", "", local, cache, "local toolchain"},
		{"a GOROOT of another version does not count", "go1.22.12", other, other, cache, "module cache"},
		{"the module cache's toolchain", "go1.22.12 X:exp", "/nonexistent", "", cache, "module cache"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt := noGo
			opt.LocalGOROOT, opt.ModCache = c.local, c.cache
			s, err := Find(c.version, c.targetRoot, opt)
			if err != nil {
				t.Fatal(err)
			}
			if s.From != c.wantFrom || s.GoVersion != "go1.22.12" {
				t.Errorf("found %+v, want it from %s", s, c.wantFrom)
			}
			if b, _ := os.ReadFile(s.Path); string(b) != "# go1.22.12\n" {
				t.Errorf("%s holds %q", s.Path, b)
			}
		})
	}
	t.Run("missing everywhere says how to fetch it", func(t *testing.T) {
		opt := noGo
		opt.LocalGOROOT, opt.ModCache = other, cache
		_, err := Find("go1.21.13", "", opt)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "GOTOOLCHAIN=go1.21.13 go version") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("not a release", func(t *testing.T) {
		if _, err := Find("devel +abc", "", noGo); !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v", err)
		}
	})
}

// buildProgram builds a small Go program with the local toolchain and extra go build flags.
func buildProgram(t *testing.T, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module prog\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hi\") }\n"), 0o644)
	out := filepath.Join(dir, "prog")
	cmd := exec.Command("go", append(append([]string{"build", "-o", out}, flags...), ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// TestForExecutable finds the script for a program built by the local toolchain: the
// target's GOROOT (from DWARF) is that toolchain's and holds the file. (The test binary
// itself will not do: go test links it without DWARF.) A -trimpath build has no GOROOT.
func TestForExecutable(t *testing.T) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	exe := buildProgram(t)
	root := TargetGOROOT(exe)
	if root != strings.TrimSpace(string(goroot)) {
		t.Fatalf("TargetGOROOT = %q, want the toolchain that built the program, %s", root, goroot)
	}
	s, err := ForExecutable(exe, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.GoVersion != runtime.Version() || s.Path != filepath.Join(root, "src/runtime/runtime-gdb.py") || s.From != "target GOROOT" {
		t.Errorf("found %+v", s)
	}
	if root := TargetGOROOT(buildProgram(t, "-trimpath")); root != "" {
		t.Errorf("TargetGOROOT of a -trimpath build = %q, want \"\"", root)
	}
}

func TestGDBArgsNeverWidenSafePath(t *testing.T) {
	args := GDBArgs("/x/runtime-gdb.py", "/y/gorigin_gdb.py")
	joined := strings.Join(args, "\n")
	if strings.Contains(joined, "safe-path /\n") || strings.Contains(joined, "add-auto-load-safe-path") || !slices.Contains(args, "-nx") {
		t.Errorf("unsafe arguments %q", args)
	}
	if !slices.Contains(args, "source /x/runtime-gdb.py") || !slices.Contains(args, "source /y/gorigin_gdb.py") {
		t.Errorf("scripts not sourced: %q", args)
	}
}
