// Package runtimegdb finds the runtime-gdb.py that matches a Go program's toolchain, and
// builds the GDB arguments that load it explicitly (source FILE) without ever widening
// GDB's auto-load safe-path: a target binary is untrusted input and may embed its own
// .debug_gdb_scripts section.
//
// It is for the gdb command (gorigin gdb PID) and for people starting GDB by hand; it
// does not drive GDB (package dbg/gdbmi does).
package runtimegdb

import (
	"debug/buildinfo"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Options say where to look.
type Options struct {
	// Fetch allows downloading the toolchain through the module proxy
	// (GOTOOLCHAIN=goX.Y.Z go version) when no copy is on this machine.
	Fetch bool
	// GoCmd is the go command ("" = go on PATH), for go env and fetching.
	GoCmd string
	// ModCache overrides $GOMODCACHE ("" = ask go env).
	ModCache string
	// LocalGOROOT overrides the local toolchain's GOROOT ("" = ask go env).
	LocalGOROOT string
}

// ErrNotFound is wrapped when no matching runtime-gdb.py is on this machine.
var ErrNotFound = errors.New("no matching runtime-gdb.py")

// Script is a runtime-gdb.py found for a program.
type Script struct {
	Path      string // the runtime-gdb.py
	GoVersion string // the program's toolchain, "go1.26.8"
	From      string // where it was found: "target GOROOT", "local toolchain", "module cache", "fetched"
}

// ForExecutable finds the runtime-gdb.py for the Go program in the file exe.
func ForExecutable(exe string, opt Options) (*Script, error) {
	bi, err := buildinfo.ReadFile(exe)
	if err != nil {
		return nil, fmt.Errorf("%s: not a Go program, or its build information is unreadable: %w", exe, err)
	}
	return Find(bi.GoVersion, TargetGOROOT(exe), opt)
}

// Find looks for runtime-gdb.py of goVersion ("go1.26.8"): in targetRoot (the GOROOT the
// program was built from, "" if unknown), the local toolchain, the module cache's
// toolchains, and — when opt.Fetch — a toolchain downloaded through the proxy. A
// candidate counts only if its VERSION file names goVersion.
func Find(goVersion, targetRoot string, opt Options) (*Script, error) {
	goVersion = strings.Fields(goVersion + " ")[0] // "go1.26.8 X:nocoverageredesign" → "go1.26.8"
	if !strings.HasPrefix(goVersion, "go1.") {
		return nil, fmt.Errorf("go version %q: want a release such as go1.26.8: %w", goVersion, ErrNotFound)
	}
	var unsafe []string // candidates refused by trusted
	try := func(root, from string) *Script {
		if root == "" || !versionIs(root, goVersion) {
			return nil
		}
		p := filepath.Join(root, "src", "runtime", "runtime-gdb.py")
		if _, err := os.Stat(p); err != nil {
			return nil
		}
		if err := trusted(p); err != nil {
			unsafe = append(unsafe, err.Error())
			return nil
		}
		return &Script{Path: p, GoVersion: goVersion, From: from}
	}
	if s := try(targetRoot, "target GOROOT"); s != nil {
		return s, nil
	}
	local := opt.LocalGOROOT
	if local == "" {
		local = goEnv(opt, "GOROOT")
	}
	if s := try(local, "local toolchain"); s != nil {
		return s, nil
	}
	cache := opt.ModCache
	if cache == "" {
		cache = goEnv(opt, "GOMODCACHE")
	}
	tc := toolchainDir(cache, goVersion)
	if s := try(tc, "module cache"); s != nil {
		return s, nil
	}
	if !opt.Fetch {
		if len(unsafe) > 0 {
			return nil, fmt.Errorf("%s: not loading %s: %w", goVersion, strings.Join(unsafe, "; "), ErrNotFound)
		}
		return nil, fmt.Errorf("%s: not in the target's GOROOT (%s), the local toolchain (%s) or the module cache (%s): "+
			"fetch it with GOTOOLCHAIN=%s go version, or allow fetching: %w", goVersion, orNone(targetRoot), orNone(local), orNone(tc), goVersion, ErrNotFound)
	}
	cmd := exec.Command(goCmd(opt), "version")
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+goVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("fetch %s through the module proxy: %v: %s: %w", goVersion, err, strings.TrimSpace(string(out)), ErrNotFound)
	}
	if s := try(tc, "fetched"); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("fetched %s but %s has no runtime-gdb.py: %w", goVersion, tc, ErrNotFound)
}

func toolchainDir(cache, goVersion string) string {
	if cache == "" {
		return ""
	}
	return filepath.Join(cache, "golang.org", fmt.Sprintf("toolchain@v0.0.1-%s.%s-%s", goVersion, runtime.GOOS, runtime.GOARCH))
}

// versionIs reports whether the GOROOT root is the toolchain goVersion (its VERSION file's
// first line).
func versionIs(root, goVersion string) bool {
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first) == goVersion
}

func goCmd(opt Options) string {
	if opt.GoCmd != "" {
		return opt.GoCmd
	}
	return "go"
}

func goEnv(opt Options, name string) string {
	cmd := exec.Command(goCmd(opt), "env", name)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// TargetGOROOT is the GOROOT the program in exe was built from, read from the file names
// in the line tables of its runtime package (".../src/runtime/proc.go"), or "" (stripped,
// -trimpath). The linker may split a package into several compile units: each is looked at.
func TargetGOROOT(exe string) string {
	f, err := elf.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return ""
	}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			return ""
		}
		if e.Tag == dwarf.TagCompileUnit {
			if name, _ := e.Val(dwarf.AttrName).(string); name == "runtime" {
				if root := runtimeRoot(d, e); root != "" {
					return root
				}
			}
		}
		r.SkipChildren()
	}
}

// runtimeRoot is the GOROOT in the file names of the runtime compile unit cu, or "".
func runtimeRoot(d *dwarf.Data, cu *dwarf.Entry) string {
	lr, err := d.LineReader(cu)
	if err != nil || lr == nil {
		return ""
	}
	for _, file := range lr.Files() {
		if file == nil {
			continue
		}
		if root, _, ok := strings.Cut(file.Name, "/src/runtime/"); ok && filepath.IsAbs(root) {
			return root
		}
	}
	return ""
}
