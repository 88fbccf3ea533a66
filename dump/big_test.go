package dump

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// genDump writes a debug=2 dump of n goroutines in the shape of a leaking server: most
// blocked in a few stacks, with wait minutes, labels and parents.
func genDump(w io.Writer, first, n int) {
	for i := first; i < first+n; i++ {
		switch i % 4 {
		case 0:
			fmt.Fprintf(w, "goroutine %d [chan receive, %d minutes]:\nmain.blockRecv(...)\n\t/src/app/spawn.go:133\nmain.worker(0xc000123456, {0x4b2e40, 0xc000012345})\n\t/src/app/worker.go:42 +0x1d\ncreated by main.serve in goroutine 1\n\t/src/app/main.go:94 +0x45\n\n", i, i%30)
		case 1:
			fmt.Fprintf(w, "goroutine %d [select] {tenant: a, task: \"x y\"}:\nruntime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)\n\t/go/src/runtime/proc.go:435 +0xce\nruntime.selectgo(0xc00006ef28, 0xc00006eefc, 0x0?, 0x0, 0x0?, 0x1)\n\t/go/src/runtime/select.go:351 +0x837\nmain.poller()\n\t/src/app/poll.go:8 +0x6b\ncreated by main.serve in goroutine 1\n\t/src/app/main.go:97 +0x45\n\n", i)
		case 2:
			fmt.Fprintf(w, "goroutine %d [IO wait, 3 minutes]:\ninternal/poll.runtime_pollWait(0x7f2b4c1b8e08, 0x72)\n\t/go/src/runtime/netpoll.go:351 +0x85\ninternal/poll.(*pollDesc).wait(0xc000180000?, 0xc000190000?, 0x0)\n\t/go/src/internal/poll/fd_poll_runtime.go:84 +0x27\nnet/http.(*conn).serve(0xc0001a2000, {0x7f9c40, 0xc000110030})\n\t/go/src/net/http/server.go:2102 +0x625\ncreated by net/http.(*Server).Serve in goroutine %d\n\t/go/src/net/http/server.go:3454 +0x485\n\n", i, i-1)
		default:
			fmt.Fprintf(w, "goroutine %d [sync.Mutex.Lock, locked to thread]:\ninternal/sync.runtime_SemacquireMutex(0xc000010000?, 0x0?, 0x0?)\n\t/go/src/runtime/sema.go:95 +0x25\nsync.(*Mutex).Lock(...)\n\t/go/src/sync/mutex.go:46\nmain.spawnAll.func1()\n\t/src/app/spawn.go:41 +0x25\ncreated by main.spawnAll in goroutine 1\n\t/src/app/spawn.go:39 +0x45\n\n", i)
		}
	}
}

// BenchmarkParse100k parses a generated 100,000-goroutine debug=2 dump (33 MB) into a
// snapshot, and reports the heap the snapshot keeps. The comparison with gostackparse
// and panicparse on a real dump is integration/dumpbench, a module of its own.
func BenchmarkParse100k(b *testing.B) {
	var buf bytes.Buffer
	genDump(&buf, 1, 100_000)
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	var s *snapshot.Snapshot
	for b.Loop() {
		var err error
		s, err = Parse(bytes.NewReader(data), Options{})
		if err != nil || len(s.Goroutines) != 100_000 {
			b.Fatalf("%v, %d goroutines", err, len(s.Goroutines))
		}
	}
	// What the snapshot of the last iteration holds: the memory a caller keeps.
	data = nil
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "MB-kept")
	runtime.KeepAlive(s)
}

// BenchmarkReader100k streams the same dump without keeping the goroutines.
func BenchmarkReader100k(b *testing.B) {
	var buf bytes.Buffer
	genDump(&buf, 1, 100_000)
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data))
		n := 0
		for {
			_, err := r.Next()
			if err != nil {
				break
			}
			n++
		}
		if n != 100_000 {
			b.Fatalf("%d goroutines", n)
		}
	}
}

// endless yields a dump of unbounded size, chunk by chunk: goroutine blocks with fresh
// ids, an overlong line without a newline now and then, and plain noise.
type endless struct {
	left  int64
	next  int
	chunk []byte
	buf   bytes.Buffer
}

func (e *endless) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if len(e.chunk) == 0 {
		e.buf.Reset()
		genDump(&e.buf, e.next, 1000)
		e.next += 1000
		if e.next%50_000 == 0 {
			e.buf.WriteString("noise " + string(bytes.Repeat([]byte("x"), 3<<20)) + "\n")
		}
		e.chunk = e.buf.Bytes()
	}
	n := copy(p, e.chunk)
	if int64(n) > e.left {
		n = int(e.left)
	}
	e.chunk = e.chunk[n:]
	e.left -= int64(n)
	return n, nil
}

// TestReaderBoundedMemory streams 1 GB (64 MB with -short) of dump through a Reader
// and requires the heap to stay small: one goroutine at a time, lines capped.
func TestReaderBoundedMemory(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	r := NewReader(&endless{left: size})
	var ms runtime.MemStats
	var peak uint64
	n := 0
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n%20_000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	t.Logf("%d MB: %d goroutines, peak heap %.1f MB", size>>20, n, float64(peak)/(1<<20))
	if n < int(size/400) {
		t.Errorf("only %d goroutines from %d MB", n, size>>20)
	}
	if peak > 48<<20 {
		t.Errorf("peak heap %.1f MB while streaming: want bounded (< 48 MB)", float64(peak)/(1<<20))
	}
}
