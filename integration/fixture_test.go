package integration

// What the fixture's source says about the goroutines it must have: every go statement,
// found by parsing the source, and the marker comment on its line that names it and
// says how many goroutines it starts.

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// A goStatement is one go statement of the fixture, or one that runs a fixture function
// from outside it (External: time.AfterFunc's, in package time).
type goStatement struct {
	Name     string // the marker's name: "plain", "chain-child", ...
	File     string // base name in the fixture directory
	Line     int
	Count    int    // goroutines it has once the fixture is ready
	Func     string // the enclosing declared function, "main.spawnInline"
	External bool
}

// restless reports whether the goroutines of a go statement change state on their own,
// so that two reads of them may differ: busy loops, and the accept loop serving the dumps.
func restless(name string) bool { return name == busyStatement || name == httpStatement }

var markerRE = regexp.MustCompile(`^// GO-STATEMENT(-EXTERNAL)? ([a-z0-9-]+) (\d+|n)$`)

// Marker names the comparisons treat specially.
const (
	busyStatement   = "busy"          // busy loops: their state flips between reads
	httpStatement   = "http"          // the HTTP accept loop: runnable while a request comes in
	inlineStatement = "inline-helper" // a go statement in a helper the compiler may inline
	labeledStmt     = "labeled"       // started inside pprof.Do
	chainRoot       = "chain-root"    // the recursion's first goroutine
	chainChild      = "chain-child"   // each goroutine of the recursion starts the next
	chainDepth      = 5
)

// fixtureLabels are the pprof labels of the "labeled" goroutines.
var fixtureLabels = map[string]string{"task": "labeled", "tenant": "a b"}

// fixtureGoStatements reads the go statements of the fixture files that a build with cgo
// on or off compiles; extra is the fixture's -n flag. It fails when a go statement has
// no marker or a marker no go statement, so that the list cannot silently shrink.
func fixtureGoStatements(t testing.TB, cgo bool, extra int) []goStatement {
	t.Helper()
	dir := fixtureDir(t)
	ctx := build.Default
	ctx.CgoEnabled = cgo
	ctx.GOOS, ctx.GOARCH = runtime.GOOS, runtime.GOARCH
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixture sources in %s: %v", dir, err)
	}
	var stmts []goStatement
	fset := token.NewFileSet()
	for _, name := range names {
		base := filepath.Base(name)
		if ok, err := ctx.MatchFile(dir, base); err != nil || !ok {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		goLines := map[int]string{} // line → enclosing function
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ast.Inspect(fd, func(n ast.Node) bool {
				if g, ok := n.(*ast.GoStmt); ok {
					goLines[fset.Position(g.Go).Line] = "main." + fd.Name.Name
				}
				return true
			})
		}
		marked := map[int]bool{}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if !strings.HasPrefix(c.Text, "// GO-STATEMENT") {
					continue
				}
				pos := fset.Position(c.Slash)
				m := markerRE.FindStringSubmatch(c.Text)
				if m == nil {
					t.Fatalf("%s:%d: malformed marker %q: want // GO-STATEMENT[-EXTERNAL] name count", base, pos.Line, c.Text)
				}
				s := goStatement{Name: m[2], File: base, Line: pos.Line, External: m[1] != ""}
				if m[3] == "n" {
					s.Count = extra
				} else {
					s.Count, _ = strconv.Atoi(m[3])
				}
				fn, isGo := goLines[pos.Line]
				switch {
				case s.External && isGo:
					t.Fatalf("%s:%d: GO-STATEMENT-EXTERNAL marks a go statement", base, pos.Line)
				case !s.External && !isGo:
					t.Fatalf("%s:%d: GO-STATEMENT marks a line without a go statement", base, pos.Line)
				}
				s.Func = fn
				marked[pos.Line] = true
				stmts = append(stmts, s)
			}
		}
		for line := range goLines {
			if !marked[line] {
				t.Fatalf("%s:%d: go statement without a // GO-STATEMENT marker", base, line)
			}
		}
	}
	seen := map[string]bool{}
	for _, s := range stmts {
		if seen[s.Name] {
			t.Fatalf("two go statements named %q in the fixture", s.Name)
		}
		seen[s.Name] = true
	}
	sort.Slice(stmts, func(i, j int) bool {
		if stmts[i].File != stmts[j].File {
			return stmts[i].File < stmts[j].File
		}
		return stmts[i].Line < stmts[j].Line
	})
	return stmts
}

// fixtureModule is the module path in the fixture's go.mod: with -trimpath the runtime
// prints the fixture's files under it.
func fixtureModule(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if m, ok := strings.CutPrefix(line, "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	t.Fatal("fixture go.mod has no module line")
	return ""
}

// sourcePath is the file name the runtime prints for fixture file base in variant v.
func sourcePath(t testing.TB, v variant, base string) string {
	if v.Trimpath {
		return fixtureModule(t) + "/" + base
	}
	return filepath.Join(fixtureDir(t), base)
}

func TestFixtureGoStatements(t *testing.T) {
	for _, cgo := range []bool{false, true} {
		t.Run(fmt.Sprintf("cgo=%v", cgo), func(t *testing.T) {
			stmts := fixtureGoStatements(t, cgo, 11)
			names := map[string]goStatement{}
			for _, s := range stmts {
				names[s.Name] = s
			}
			// The kinds of go statement the brief asks for must all be there.
			want := []string{"plain", "closure-mutex", "method-value", "generic-call", "generic-spawner",
				inlineStatement, chainRoot, chainChild, "afterfunc", labeledStmt, "spawn-helper", "syscall-read",
				"locked-thread", busyStatement, "sleeper", "waitgroup", "select-no-cases", "extra", "http",
				// go statements whose wrapper calls the function directly or through a func value
				// or an interface (wrapped.go)
				"closure-defer-args", "closure-defer-nocapture", "func-value", "interface-method", "method-value-var", "generic-defer"}
			if cgo {
				want = append(want, "cgo-call")
			}
			for _, n := range want {
				if _, ok := names[n]; !ok {
					t.Errorf("fixture has no go statement %q", n)
				}
			}
			if len(names) != len(want) {
				t.Errorf("fixture has %d go statements, want %d: %v", len(names), len(want), stmts)
			}
			if s := names["extra"]; s.Count != 11 {
				t.Errorf("extra goroutines: %d, want the -n value 11", s.Count)
			}
			if s := names[chainChild]; s.Count != chainDepth-1 {
				t.Errorf("chain children: %d, want %d", s.Count, chainDepth-1)
			}
		})
	}
}
