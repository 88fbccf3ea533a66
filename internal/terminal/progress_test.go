package terminal

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func fakeTerminal(cols int) (*Progress, *bytes.Buffer, *fakeClock) {
	var b bytes.Buffer
	c := &fakeClock{t: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	return newProgress(&b, true, cols, c.now), &b, c
}

// frames splits what a terminal received into the lines drawn with "\r".
func frames(out string) []string {
	var fs []string
	for _, f := range strings.Split(out, "\r") {
		if f != "" {
			fs = append(fs, f)
		}
	}
	return fs
}

func TestProgressQuickWorkShowsNothing(t *testing.T) {
	p, out, clock := fakeTerminal(80)
	for i := 0; i <= 1000; i += 100 {
		p.Update("symbolising goroutines", i, 1000)
		clock.advance(20 * time.Millisecond) // 200 ms in all
	}
	p.Clear()
	if out.Len() != 0 {
		t.Errorf("work done in 200 ms drew %q", out.String())
	}
}

func TestProgressBar(t *testing.T) {
	const cols = 72
	p, out, clock := fakeTerminal(cols)
	p.Update("symbolising goroutines", 0, 100018)
	clock.advance(400 * time.Millisecond)
	p.Update("symbolising goroutines", 50009, 100018)
	fs := frames(out.String())
	if len(fs) != 1 {
		t.Fatalf("after 400 ms, %d frames: %q", len(fs), out.String())
	}
	f := strings.TrimSuffix(fs[0], "\x1b[K")
	if !strings.HasPrefix(f, "gorigin: symbolising goroutines [") || !strings.HasSuffix(f, "] 50,009/100,018  0.4s") {
		t.Errorf("frame %q", f)
	}
	if n := utf8.RuneCountInString(f); n > cols-1 {
		t.Errorf("frame of %d runes on a terminal of %d columns: %q", n, cols, f)
	}
	bar := f[strings.IndexByte(f, '[')+1 : strings.IndexByte(f, ']')]
	if filled := strings.Count(bar, "="); filled != len(bar)/2 {
		t.Errorf("half done, bar %q has %d of %d filled", bar, filled, len(bar))
	}

	// Redraws at most every 100 ms.
	for i := range 5 {
		clock.advance(10 * time.Millisecond)
		p.Update("symbolising goroutines", 60000+i, 100018)
	}
	if got := len(frames(out.String())); got != 1 {
		t.Errorf("5 updates within 50 ms drew %d more frames", got-1)
	}
	clock.advance(60 * time.Millisecond)
	p.Update("symbolising goroutines", 70000, 100018)
	if got := len(frames(out.String())); got != 2 {
		t.Errorf("an update 110 ms after the last frame drew %d frames in all, want 2", got)
	}

	// Done: the line is erased, and that is the last thing written.
	p.Update("symbolising goroutines", 100018, 100018)
	if !strings.HasSuffix(out.String(), "\r\x1b[K") {
		t.Errorf("the end of the work left %q", out.String()[max(0, out.Len()-80):])
	}
	n := out.Len()
	p.Clear()
	if out.Len() != n {
		t.Errorf("Clear with nothing drawn wrote %q", out.String()[n:])
	}
}

func TestProgressUnknownTotalKeepsTime(t *testing.T) {
	p, out, clock := fakeTerminal(80)
	p.Update("reading the target", 0, 0)
	clock.advance(500 * time.Millisecond)
	p.tick()
	clock.advance(700 * time.Millisecond)
	p.tick()
	fs := frames(out.String())
	want := []string{"gorigin: reading the target…  0.5s\x1b[K", "gorigin: reading the target…  1.2s\x1b[K"}
	if strings.Join(fs, "|") != strings.Join(want, "|") {
		t.Errorf("frames %q, want %q", fs, want)
	}
	p.Clear() // an error stopped the work: the line is erased
	if !strings.HasSuffix(out.String(), "\r\x1b[K") {
		t.Errorf("Clear left %q", out.String())
	}
	n := out.Len()
	clock.advance(time.Second)
	p.tick() // a late tick after Clear draws nothing
	if out.Len() != n {
		t.Errorf("a tick after Clear drew %q", out.String()[n:])
	}
}

func TestProgressNarrowTerminal(t *testing.T) {
	p, out, clock := fakeTerminal(30)
	p.Update("symbolising goroutines", 0, 100018)
	clock.advance(time.Second)
	p.Update("symbolising goroutines", 1, 100018)
	for _, f := range frames(out.String()) {
		if n := utf8.RuneCountInString(strings.TrimSuffix(f, "\x1b[K")); n > 29 {
			t.Errorf("frame of %d runes on 30 columns: %q", n, f)
		}
	}
}

func TestProgressSilentOffTerminal(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b bytes.Buffer
	ps := []*Progress{NewProgress(&b), NewProgress(f), nil}
	for _, p := range ps {
		p.Update("reading the target", 0, 0)
	}
	time.Sleep(progressDelay + progressEvery)
	for _, p := range ps {
		p.Update("symbolising goroutines", 5, 10)
		p.Clear()
	}
	if st, _ := f.Stat(); b.Len() != 0 || st.Size() != 0 {
		t.Errorf("off a terminal: %q in a buffer, %d bytes in a file", b.String(), st.Size())
	}
}
