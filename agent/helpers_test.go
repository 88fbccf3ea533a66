package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func blockOn(ch chan struct{}) { <-ch }

// blockStarted says on started that it runs, then blocks on ch. A test that counts
// goroutines by start function waits for started: a goroutine that has not run yet shows
// only the compiler's go-statement wrapper in runtime.Stack, not blockStarted.
func blockStarted(started chan<- struct{}, ch chan struct{}) {
	started <- struct{}{}
	<-ch
}

// markedLine is the line number of the one line of file (in this directory) that ends
// with marker: the test's go statements are marked so, an oracle independent of the agent.
func markedLine(t testing.TB, file, marker string) int {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, l := range strings.Split(string(src), "\n") {
		if strings.HasSuffix(l, marker) {
			if n != 0 {
				t.Fatalf("%s: two lines end with %q", file, marker)
			}
			n = i + 1
		}
	}
	if n == 0 {
		t.Fatalf("%s: no line ends with %q", file, marker)
	}
	return n
}

// countAt counts the goroutines of s created by the go statement at file:line.
func countAt(s *snapshot.Snapshot, file string, line int) int {
	n := 0
	for _, g := range s.Goroutines {
		if g.Origin != nil && filepath.Base(g.Origin.File) == file && g.Origin.Line == line {
			n++
		}
	}
	return n
}

// keyAt is whether a group key names the go statement at file:line.
func keyAt(key, file string, line int) bool {
	return strings.Contains(key, fmt.Sprintf("/%s:%d ", file, line))
}
