package leaktest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTB records what Check reports instead of failing the real test.
type fakeTB struct {
	mu   sync.Mutex
	errs []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) failed() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.errs, "\n")
}

// here is the file:line of the line after the call: put the go statement there.
func nextLine() string {
	_, file, line, _ := runtime.Caller(1)
	return fmt.Sprintf("%s:%d", filepath.Base(file), line+1)
}

func blockOn(ch chan struct{}) { <-ch }

// waitParked waits until n goroutines created by the calling test are parked in a channel
// receive: one that has not run yet shows its go-statement wrapper and "runnable", not
// what a report of a real leak shows. The test's timeout ends a wait that never ends.
func waitParked(t *testing.T, n int) {
	t.Helper()
	pc, _, _, _ := runtime.Caller(1)
	creator := "created by " + runtime.FuncForPC(pc).Name() + " in goroutine"
	buf := make([]byte, 1<<20)
	for {
		buf = buf[:runtime.Stack(buf[:cap(buf)], true)]
		parked := 0
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "[chan receive") && strings.Contains(g, "leaktest.blockOn(") && strings.Contains(g, creator) {
				parked++
			}
		}
		if parked >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLeakIsCaughtWithItsOrigin(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := &fakeTB{}
	origin := nextLine()
	go blockOn(release)
	for range 2 {
		go func() { blockOn(release) }() // a second group, two goroutines
	}
	waitParked(t, 3)
	Check(f, Grace(50*time.Millisecond))
	got := f.failed()
	if got == "" {
		t.Fatal("Check passed a test that left 3 goroutines blocked")
	}
	for _, want := range []string{"3 goroutine(s)", "1 × go statement", origin, "2 × go statement", "chan receive"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

func TestLeakThroughALiveChildIsCaught(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := &fakeTB{}
	var origin string
	started := make(chan struct{})
	go func() { // the child stays alive, its own child is the grandchild of the test
		origin = nextLine()
		go blockOn(release)
		close(started)
		blockOn(release)
	}()
	<-started
	Check(f, Grace(20*time.Millisecond))
	if got := f.failed(); !strings.Contains(got, "2 goroutine(s)") || !strings.Contains(got, origin) {
		t.Errorf("want the child and grandchild (%s) blamed, got:\n%s", origin, got)
	}
}

func TestExitingGoroutinesPass(t *testing.T) {
	f := &fakeTB{}
	for range 5 {
		go func() { time.Sleep(30 * time.Millisecond) }() // exits within the grace period
	}
	Check(f, Grace(2*time.Second))
	if got := f.failed(); got != "" {
		t.Errorf("Check failed a test whose goroutines exit within the grace period:\n%s", got)
	}
}

func TestIgnoreOrigin(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	f := &fakeTB{}
	go blockOn(release)
	waitParked(t, 1)
	Check(f, Grace(10*time.Millisecond), IgnoreOrigin("leaktest.blockOn"))
	if got := f.failed(); got != "" {
		t.Errorf("IgnoreOrigin did not ignore:\n%s", got)
	}
}

// TestParallelOnlyTheLeakyTestIsBlamed runs two parallel tests at once: "leaky" leaves a
// goroutine behind, "clean" checks while that goroutine is alive and must pass.
func TestParallelOnlyTheLeakyTestIsBlamed(t *testing.T) {
	release := make(chan struct{})
	leakStarted := make(chan struct{})
	cleanChecked := make(chan struct{})
	leaky, clean := &fakeTB{}, &fakeTB{}
	var origin string
	t.Run("group", func(t *testing.T) {
		t.Run("leaky", func(t *testing.T) {
			t.Parallel()
			origin = nextLine()
			go blockOn(release)
			close(leakStarted)
			<-cleanChecked
			Check(leaky, Grace(20*time.Millisecond))
		})
		t.Run("clean", func(t *testing.T) {
			t.Parallel()
			<-leakStarted
			done := make(chan struct{})
			go func() { <-done }()
			close(done)
			Check(clean, Grace(time.Second))
			close(cleanChecked)
		})
	})
	close(release)
	if got := leaky.failed(); !strings.Contains(got, "1 goroutine(s)") || !strings.Contains(got, origin) {
		t.Errorf("the leaky test was not blamed for its goroutine at %s:\n%s", origin, got)
	}
	if got := clean.failed(); got != "" {
		t.Errorf("the clean parallel test was blamed for another test's goroutine:\n%s", got)
	}
}

// TestRealTestFails runs a real leaky test in a child process and checks go test's output.
func TestRealTestFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildLeaky$", "-test.v")
	cmd.Env = append(os.Environ(), "LEAKTEST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the leaky child test passed:\n%s", out)
	}
	for _, want := range []string{"--- FAIL: TestChildLeaky", "leaktest: 1 goroutine(s)", "1 × go statement", markedLine(t, "// LEAK")} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child output lacks %q:\n%s", want, out)
		}
	}
}

func TestChildLeaky(t *testing.T) {
	if os.Getenv("LEAKTEST_CHILD") == "" {
		t.Skip("run by TestRealTestFails")
	}
	defer Check(t, Grace(20*time.Millisecond))
	go blockOn(make(chan struct{})) // LEAK
}

// markedLine is "leaktest_test.go:N" of the line of this file that ends with marker.
func markedLine(t *testing.T, marker string) string {
	src, err := os.ReadFile("leaktest_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.HasSuffix(l, marker) {
			return fmt.Sprintf("leaktest_test.go:%d", i+1)
		}
	}
	t.Fatalf("no line ends with %q", marker)
	return ""
}
