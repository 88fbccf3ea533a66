package snapshot

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func historySnap(at time.Time, gs ...Goroutine) *Snapshot {
	return &Snapshot{Schema: Schema, Source: Source{Kind: KindLive, TakenAt: at}, Goroutines: gs}
}

func waiting(id int64, reason string, frames ...string) Goroutine {
	g := Goroutine{ID: id, Status: StatusWaiting, WaitReason: reason, Origin: &Location{Func: "main.main", File: "m.go", Line: 7}}
	for _, f := range frames {
		g.Frames = append(g.Frames, Location{Func: f, PC: "0x1"})
	}
	return g
}

// TestHistoryNext follows three looks: a goroutine is seen from the first look that saw
// it at the same place, without or with stacks; one that moved, ran or is new is not.
func TestHistoryNext(t *testing.T) {
	p := Process{Pid: 7, StartTicks: 99, Boot: fitBoot("b")}
	t0 := time.Unix(1_000_000, 0)
	withWait := func(g Goroutine, sec float64) Goroutine { g.WaitSeconds = sec; return g }
	s0 := historySnap(t0, waiting(1, "chan receive"), waiting(2, "chan receive"), waiting(3, "select", "main.f"), waiting(4, "sleep"),
		withWait(waiting(6, "sleep"), 100), withWait(waiting(7, "sleep"), 100), withWait(waiting(8, "sleep"), 100))
	h0 := (*History)(nil).Next(p, s0)
	if s0.Source.PreviousLook != nil {
		t.Errorf("first look has a previous look")
	}
	s1 := historySnap(t0.Add(time.Minute),
		waiting(1, "chan receive"),              // same place
		waiting(2, "select"),                    // moved
		waiting(3, "select", "main.f"),          // same, with stacks both times
		Goroutine{ID: 4, Status: StatusRunning}, // running now
		waiting(5, "chan receive"),              // new
		withWait(waiting(6, "sleep"), 160),      // the same wait, as the runtime says
		waiting(7, "sleep"),                     // the runtime forgot the wait: it ran
		withWait(waiting(8, "sleep"), 10))       // another wait: it ran
	h1 := h0.Next(p, s1)
	want := map[int64]float64{1: 60, 3: 60, 6: 60}
	for _, g := range s1.Goroutines {
		if g.SeenSeconds != want[g.ID] {
			t.Errorf("look 2: goroutine %d seen %v s ago, want %v", g.ID, g.SeenSeconds, want[g.ID])
		}
	}
	s2 := historySnap(t0.Add(3*time.Minute),
		waiting(1, "chan receive", "main.g"), // stacks now, none before: still the same
		waiting(2, "select"),                 // seen since look 2
		waiting(3, "select", "main.other"),   // another stack: moved
		waiting(5, "chan receive"))
	h1.Next(p, s2)
	want = map[int64]float64{1: 180, 2: 120, 5: 120}
	for _, g := range s2.Goroutines {
		if g.SeenSeconds != want[g.ID] {
			t.Errorf("look 3: goroutine %d seen %v s ago, want %v", g.ID, g.SeenSeconds, want[g.ID])
		}
	}
	if n, sec := Seen(s2.Goroutines, []int{0, 1, 2, 3}); n != 3 || sec != 120 {
		t.Errorf("Seen = %d, %v; want 3 seen at least 120 s ago", n, sec)
	}
}

// TestHistoryFile writes a history and reads it back; another process (same pid, other
// start time) has none; and every damaged form of the file is an error, never a panic or
// a wrong answer.
func TestHistoryFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "h")
	p := Process{Pid: 42, StartTicks: 1234, Boot: fitBoot("boot")}
	now := time.Now()
	s := historySnap(now, waiting(10, "chan receive"), waiting(11, "select"))
	h := (*History)(nil).Next(p, s)
	if err := WriteHistory(dir, h); err != nil {
		t.Fatal(err)
	}
	got, err := ReadHistory(dir, p)
	if err != nil || len(got.recs) != 2 || !got.TakenAt.Equal(time.Unix(0, now.UnixNano())) {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	if _, err := ReadHistory(dir, Process{Pid: 42, StartTicks: 1235, Boot: p.Boot}); !errors.Is(err, ErrNoHistory) {
		t.Errorf("a process reusing the pid: %v, want ErrNoHistory", err)
	}
	if _, err := ReadHistory(dir, Process{Pid: 43}); !errors.Is(err, ErrNoHistory) {
		t.Errorf("no file: %v, want ErrNoHistory", err)
	}

	good := h.encode()
	for n := 0; n < len(good); n++ { // every truncation
		if _, err := parseHistory(good[:n], now); err == nil {
			t.Errorf("%d of %d bytes parsed", n, len(good))
		}
	}
	for i := range good { // every byte flipped: an error or a well-formed history
		bad := append([]byte(nil), good...)
		bad[i] ^= 0xff
		if h, err := parseHistory(bad, now); err == nil {
			for j, r := range h.recs {
				if r.id <= 0 || (j > 0 && r.id <= h.recs[j-1].id) || r.since > h.TakenAt.UnixNano() {
					t.Errorf("flipped byte %d: accepted %+v", i, h.recs)
				}
			}
		}
	}
	le := binary.LittleEndian
	huge := append([]byte(nil), good[:headerLen]...)
	le.PutUint32(huge[headerLen-4:], 1<<31)
	if _, err := parseHistory(huge, now); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("a count of 2^31: %v", err)
	}
	swapped := append([]byte(nil), good...)
	copy(swapped[headerLen:], good[headerLen+recordLen:])
	copy(swapped[headerLen+recordLen:], good[headerLen:headerLen+recordLen])
	if _, err := parseHistory(swapped, now); err == nil {
		t.Errorf("ids out of order accepted")
	}
	if _, err := parseHistory(good, now.Add(-2*time.Hour)); err == nil {
		t.Errorf("a look two hours in the future accepted")
	}

	// The file is 0600 in a 0700 directory; a directory others may write is refused.
	fi, _ := os.Stat(filepath.Join(dir, "42"))
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("modes %v and %v, want 0600 and 0700", fi.Mode().Perm(), di.Mode().Perm())
	}
	os.Chmod(dir, 0o777)
	if err := WriteHistory(dir, h); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("a world-writable directory: %v", err)
	}
	if _, err := ReadHistory(dir, p); err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("read from a world-writable directory: %v", err)
	}
	// A symlink in place of the file is not followed out of the directory.
	os.Chmod(dir, 0o700)
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, good, 0o600)
	os.Remove(filepath.Join(dir, "42"))
	os.Symlink(outside, filepath.Join(dir, "42"))
	if _, err := ReadHistory(dir, p); err == nil || errors.Is(err, ErrNoHistory) {
		t.Errorf("a symlink out of the directory was read: %v", err)
	}
}

// BenchmarkHistory is the cost history adds to a look at 100,000 blocked goroutines with
// stacks: reading the previous look, marking the snapshot, writing this one; beside it,
// for scale, encoding the same snapshot as JSON (--format json).
func BenchmarkHistory(b *testing.B) {
	dir := b.TempDir()
	p := Process{Pid: 1, StartTicks: 1, Boot: fitBoot("x")}
	gs := make([]Goroutine, 100_000)
	for i := range gs {
		gs[i] = waiting(int64(i+1), "chan receive", "runtime.gopark", "main.f", "main.g")
	}
	at := time.Now()
	if err := WriteHistory(dir, (*History)(nil).Next(p, historySnap(at, gs...))); err != nil {
		b.Fatal(err)
	}
	b.Run("history", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			at = at.Add(time.Second)
			prev, err := ReadHistory(dir, p)
			if err != nil {
				b.Fatal(err)
			}
			if err := WriteHistory(dir, prev.Next(p, historySnap(at, gs...))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := Encode(io.Discard, historySnap(at, gs...)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
