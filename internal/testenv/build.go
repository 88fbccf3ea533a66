package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A Build is one way of building one program.
type Build struct {
	Dir       string   // the directory the go command runs in (the program's, or a module's)
	Pkg       string   // the package to build; "" is "."
	Toolchain string   // "go1.20.14"; "" is the go command on PATH
	Flags     []string // go build flags ("-buildmode=pie", "-ldflags=-s -w")
	Env       []string // extra environment ("CGO_ENABLED=1", "GOARCH=arm64")
}

func (b Build) String() string {
	s := filepath.Base(b.Dir)
	if b.Pkg != "" && b.Pkg != "." {
		s = b.Pkg
	}
	tc := b.Toolchain
	if tc == "" {
		tc = "host"
	}
	return strings.Join(append(append([]string{s, tc}, b.Env...), b.Flags...), " ")
}

// A Built is the outcome of a Build.
type Built struct {
	Path string        // the executable
	Log  []byte        // what the go command printed (with -gcflags=-m=2, the compiler's inlining report)
	Took time.Duration // how long the go command ran (about a second when nothing was stale)
	Skip string        // why it cannot be built here (a missing toolchain or C compiler), or ""
	Err  error         // the build failed
}

type buildOnce struct {
	once sync.Once
	res  Built
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*buildOnce{}
	// slots bounds this process's concurrent builds: CI has two cores.
	slots = make(chan struct{}, 2)
)

// Binary returns the executable of b, building it if it is stale. It skips the test when
// b cannot be built here and fails it when the build fails.
func Binary(t testing.TB, b Build) string {
	t.Helper()
	r := Do(b)
	switch {
	case r.Skip != "":
		t.Skipf("cannot build %s here: %s", b, r.Skip)
	case r.Err != nil:
		t.Fatalf("build %s: %v", b, r.Err)
	}
	return r.Path
}

// Prebuild starts building bs in the background, two at a time and in order, so that
// later builds run while the tests of the first ones do.
func Prebuild(bs ...Build) {
	queue := make(chan Build, len(bs))
	for _, b := range bs {
		queue <- b
	}
	close(queue)
	for range cap(slots) {
		go func() {
			for b := range queue {
				Do(b)
			}
		}()
	}
}

// Do builds b once per process (later calls wait for the first) and says how it went.
//
// Every process builds into the same file for the same Build, under a file lock: the go
// command checks the build ID of an existing output and relinks only what changed, so a
// program is compiled and linked once for all the test packages of a run and for the
// runs after it, and is never stale.
func Do(b Build) Built {
	key := b.key()
	buildsMu.Lock()
	o := builds[key]
	if o == nil {
		o = &buildOnce{}
		builds[key] = o
	}
	buildsMu.Unlock()
	o.once.Do(func() { o.res = build(b, key) })
	return o.res
}

// key names b's output: the program's absolute directory and package, and the way it is
// built.
func (b Build) key() string {
	dir, err := filepath.Abs(b.Dir)
	if err != nil {
		dir = b.Dir
	}
	h := sha256.Sum256([]byte(strings.Join(append(append([]string{dir, b.Pkg, b.Toolchain}, b.Env...), b.Flags...), "\x00")))
	name := filepath.Base(dir)
	if b.Pkg != "" && b.Pkg != "." {
		name = filepath.Base(b.Pkg)
	}
	return name + "-" + hex.EncodeToString(h[:8])
}

func build(b Build, key string) (r Built) {
	if b.Toolchain != "" {
		if r.Skip = Missing(b.Toolchain); r.Skip != "" {
			return r
		}
	}
	for _, kv := range b.Env {
		if kv == "CGO_ENABLED=1" {
			if _, err := exec.LookPath("gcc"); err != nil {
				r.Skip = "CGO_ENABLED=1 needs a C compiler (gcc) on PATH"
				return r
			}
		}
	}
	dir, err := CacheDir()
	if err != nil {
		r.Err = err
		return r
	}
	slots <- struct{}{}
	defer func() { <-slots }()
	unlock, err := lockFile(filepath.Join(dir, key+".lock"))
	if err != nil {
		r.Err = err
		return r
	}
	defer unlock()
	r.Path = filepath.Join(dir, key)
	pkg := b.Pkg
	if pkg == "" {
		pkg = "."
	}
	args := append(append([]string{"build", "-o", r.Path}, b.Flags...), pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = b.Dir
	cmd.Env = goEnv(b.Toolchain, b.Env)
	start := time.Now()
	r.Log, err = cmd.CombinedOutput()
	r.Took = time.Since(start)
	if err == nil {
		now := time.Now()
		os.Chtimes(r.Path, now, now) // used: kept by prune
	}
	if err != nil {
		r.Err = fmt.Errorf("GOTOOLCHAIN=%s %s go %s (in %s): %v\n%s", b.Toolchain, strings.Join(b.Env, " "), strings.Join(args, " "), b.Dir, err, r.Log)
	}
	return r
}

var cacheDir struct {
	once sync.Once
	dir  string
	err  error
}

// CacheDir is where built programs are kept: $GORIGIN_TEST_CACHE, or
// $TMPDIR/gorigin-test-UID, readable by every user (some tests run gorigin as nobody) and
// writable only by this one: a directory there that another user made or may write is
// not used. Programs not used for two weeks are removed from it.
func CacheDir() (string, error) {
	cacheDir.once.Do(func() {
		dir := os.Getenv("GORIGIN_TEST_CACHE")
		if dir == "" {
			dir = filepath.Join(os.TempDir(), fmt.Sprintf("gorigin-test-%d", os.Getuid()))
		}
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			cacheDir.err = err
			return
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(dir, &st); err != nil {
			cacheDir.err = err
			return
		}
		if st.Uid != uint32(os.Getuid()) || st.Mode&syscall.S_IFMT != syscall.S_IFDIR || st.Mode&0o022 != 0 {
			cacheDir.err = fmt.Errorf("test cache %s is not a directory that only uid %d may write: remove it, or set GORIGIN_TEST_CACHE", dir, os.Getuid())
			return
		}
		prune(dir, 14*24*time.Hour)
		cacheDir.dir = dir
	})
	return cacheDir.dir, cacheDir.err
}

// prune removes the programs of dir that were not built or used for age.
func prune(dir string, age time.Duration) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > age && !strings.HasSuffix(e.Name(), ".lock") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// lockFile takes an exclusive lock on path (created if needed) until unlock is called:
// builds of the same program by test binaries running side by side take turns.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// RepoRoot is the root of the gorigin module that holds the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/gorigin-dev/gorigin\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no gorigin module above %s", dir)
		}
	}
}

// Gorigin builds the gorigin command of this checkout (once for every test package of a
// run, as Do does) and returns its path.
func Gorigin() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	r := Do(Build{Dir: root, Pkg: "github.com/gorigin-dev/gorigin"})
	return r.Path, r.Err
}
