package runtimegdb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrusted: a runtime-gdb.py that a user other than root and the one running gorigin
// can change — by its mode, its owner, a directory above it, or a symlink to such a
// file — is not trusted; the same file kept safe is.
func TestTrusted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	const nobody = 65534
	cases := []struct {
		name  string
		setup func(root string) string // returns the script's path
		says  string                   // "" when trusted
	}{
		{"root's file in root's directories", func(root string) string { return script(t, root, 0o755, 0o644) }, ""},
		{"a world-writable file", func(root string) string { return script(t, root, 0o755, 0o666) }, "writable by other users"},
		{"a group-writable file", func(root string) string { return script(t, root, 0o755, 0o664) }, "writable by other users"},
		{"a world-writable directory above it", func(root string) string { return script(t, root, 0o777, 0o644) }, "writable by other users"},
		{"a file another user owns", func(root string) string {
			p := script(t, root, 0o755, 0o644)
			must(t, os.Chown(p, nobody, nobody))
			return p
		}, "owned by uid 65534"},
		{"a directory another user owns", func(root string) string {
			p := script(t, root, 0o755, 0o644)
			must(t, os.Chown(filepath.Dir(p), nobody, nobody))
			return p
		}, "owned by uid 65534"},
		{"a symlink to a world-writable file", func(root string) string {
			p := script(t, root, 0o755, 0o666)
			link := filepath.Join(root, "link.py")
			must(t, os.Symlink(p, link))
			return link
		}, "writable by other users"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := trusted(c.setup(t.TempDir()))
			switch {
			case c.says == "" && err != nil:
				t.Errorf("trusted: %v, want it trusted", err)
			case c.says != "" && (err == nil || !strings.Contains(err.Error(), c.says)):
				t.Errorf("trusted: %v, want a refusal saying %q", err, c.says)
			}
		})
	}
}

// TestFindSkipsUntrustedScripts: a target GOROOT whose runtime-gdb.py others can write is
// passed over for a safe one, and with no safe one Find says why it loads nothing.
func TestFindSkipsUntrustedScripts(t *testing.T) {
	tmp := t.TempDir()
	target := fakeRoot(t, filepath.Join(tmp, "target"), "go1.22.12")
	must(t, os.Chmod(filepath.Join(target, "src", "runtime", "runtime-gdb.py"), 0o666))
	local := fakeRoot(t, filepath.Join(tmp, "local"), "go1.22.12")
	opt := Options{GoCmd: "/nonexistent/go", LocalGOROOT: local, ModCache: filepath.Join(tmp, "cache")}
	s, err := Find("go1.22.12", target, opt)
	if err != nil || s.From != "local toolchain" {
		t.Errorf("Find = %+v, %v; want the local toolchain's script", s, err)
	}
	_, err = Find("go1.22.12", target, Options{GoCmd: "/nonexistent/go", LocalGOROOT: filepath.Join(tmp, "none"), ModCache: filepath.Join(tmp, "cache")})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "writable by other users") {
		t.Errorf("Find with only an unsafe script: %v, want ErrNotFound saying why", err)
	}
}

// script writes root/go/src/runtime/runtime-gdb.py with the given modes of its directory
// and itself (chmod, so that the umask does not interfere).
func script(t *testing.T, root string, dirMode, fileMode os.FileMode) string {
	t.Helper()
	dir := filepath.Join(root, "go", "src", "runtime")
	must(t, os.MkdirAll(dir, 0o755))
	p := filepath.Join(dir, "runtime-gdb.py")
	must(t, os.WriteFile(p, []byte("# gdb\n"), 0o644))
	must(t, os.Chmod(p, fileMode))
	must(t, os.Chmod(dir, dirMode))
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
