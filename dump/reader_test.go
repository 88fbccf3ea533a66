package dump

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// want is what a test expects of one goroutine; zero fields are expected empty.
type want struct {
	id, parent     int64
	status, reason string
	wait           float64
	origin         string // "func file:line"
	start          string
	frames         int
	labels         map[string]string
	locked, system bool
}

func (w want) check(t *testing.T, g snapshot.Goroutine) {
	t.Helper()
	origin := ""
	if g.Origin != nil {
		origin = g.Origin.String()
	}
	start := ""
	if g.Start != nil {
		start = g.Start.Func
	}
	got := want{g.ID, g.ParentID, string(g.Status), g.WaitReason, g.WaitSeconds, origin, start, len(g.Frames), g.Labels, g.LockedToThread, g.System}
	if fmt.Sprint(got) != fmt.Sprint(w) || !maps.Equal(got.labels, w.labels) {
		t.Errorf("goroutine %d:\n got %+v\nwant %+v", g.ID, got, w)
	}
	if g.StackBytes != 0 {
		t.Errorf("goroutine %d: stack bytes %d from a text dump", g.ID, g.StackBytes)
	}
}

const recvBlock = `goroutine 5 [chan receive]:
main.blockRecv(...)
	/src/app/spawn.go:133
created by main.spawnAll in goroutine 1
	/src/app/spawn.go:33 +0x45
`

var recv5 = want{id: 5, parent: 1, status: "waiting", reason: "chan receive", origin: "main.spawnAll /src/app/spawn.go:33", start: "main.blockRecv", frames: 1}

func TestReader(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		want  []want
		warns []string // substrings of expected warnings
	}{
		{"go1.21+ created by names the parent", recvBlock, []want{recv5}, nil},
		{"go1.20 created by has no parent", `goroutine 7 [sleep]:
time.Sleep(0x3b9aca00)
	/go/src/runtime/time.go:195 +0x135
main.sleeper()
	/src/app/spawn.go:233 +0x33
created by main.spawnAll
	/src/app/spawn.go:107 +0x2a5
`, []want{{id: 7, status: "waiting", reason: "sleep", origin: "main.spawnAll /src/app/spawn.go:107", start: "main.sleeper", frames: 2}}, nil},
		{"minutes are a lower bound on the wait, locked to thread", `goroutine 9 [select, 3 minutes, locked to thread]:
main.loop()
	/src/app/a.go:5 +0x1
created by main.main in goroutine 1
	/src/app/a.go:2 +0x1
`, []want{{id: 9, parent: 1, status: "waiting", reason: "select", wait: 180, origin: "main.main /src/app/a.go:2", start: "main.loop", frames: 1, locked: true}}, nil},
		{"a syscall keeps its minutes, runnable is a status", `goroutine 1 [syscall, 12 minutes]:
syscall.Syscall(0x0, 0x0, 0xc000190000, 0x2000)
	/go/src/syscall/syscall_linux.go:74 +0x25
main.main()
	/src/app/main.go:52 +0x2ee

goroutine 3 [runnable]:
main.busy()
	/src/app/a.go:9 +0x1
created by main.main in goroutine 1
	/src/app/a.go:2 +0x1
`, []want{
			{id: 1, status: "syscall", wait: 720, start: "runtime.main", frames: 2},
			{id: 3, parent: 1, status: "runnable", origin: "main.main /src/app/a.go:2", start: "main.busy", frames: 1},
		}, nil},
		{"crash headers with gp, m and mp; goroutine 0 is a thread stack", `SIGQUIT: quit
PC=0x46e2a1 m=0 sigcode=0

goroutine 0 gp=0x5c1e20 m=0 mp=0x5c2b40 [idle]:
runtime.futex(0x5c2c80, 0x80, 0x0, 0x0, 0x0, 0x0)
	/go/src/runtime/sys_linux_amd64.s:557 +0x21 fp=0x7ffd sp=0x7ffd pc=0x46e2a1

goroutine 1 gp=0xc000002380 m=nil [chan receive]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
	/go/src/runtime/proc.go:435 +0xce fp=0xc00006ef28 sp=0xc00006ef08 pc=0x46a8ae
main.main()
	/src/app/main.go:8 +0x25 fp=0xc00006ef50 sp=0xc00006ef28 pc=0x48d0c5
runtime.main()
	/go/src/runtime/proc.go:283 +0x28b fp=0xc00006efe0 sp=0xc00006ef50 pc=0x43a6cb
runtime.goexit({})
	/go/src/runtime/asm_amd64.s:1700 +0x1 fp=0xc00006efe8 sp=0xc00006efe0 pc=0x471ee1

goroutine 2 gp=0xc000002e00 m=nil [force gc (idle)]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
	/go/src/runtime/proc.go:435 +0xce fp=0xc00005efa8 sp=0xc00005ef88 pc=0x46a8ae
runtime.forcegchelper()
	/go/src/runtime/proc.go:348 +0xb3 fp=0xc00005efe0 sp=0xc00005efa8 pc=0x43aa13
runtime.goexit({})
	/go/src/runtime/asm_amd64.s:1700 +0x1 fp=0xc00005efe8 sp=0xc00005efe0 pc=0x471ee1
created by runtime.init.7 in goroutine 1
	/go/src/runtime/proc.go:336 +0x1a

rax    0xca
rbx    0x0
`, []want{
			{id: 1, status: "waiting", reason: "chan receive", start: "runtime.main", frames: 3},
			{id: 2, parent: 1, status: "waiting", reason: "force gc (idle)", origin: "runtime.init.7 /go/src/runtime/proc.go:336", start: "runtime.forcegchelper", frames: 2, system: true},
		}, nil},
		{"a running goroutine in a crash repeats: the copy with the stack counts", `goroutine 6 [running]:
	goroutine running on other thread; stack unavailable
created by main.main in goroutine 1
	/src/app/a.go:2 +0x1

-----

SIGQUIT: quit
PC=0x46e2a1 m=3 sigcode=0

goroutine 6 gp=0xc000003500 m=3 mp=0xc000080008 [running]:
main.spin()
	/src/app/a.go:9 +0x1 fp=0xc00006ef50 sp=0xc00006ef28 pc=0x48d0c5
runtime.goexit({})
	/go/src/runtime/asm_amd64.s:1700 +0x1 fp=0xc00006ef58 sp=0xc00006ef50 pc=0x471ee1
created by main.main in goroutine 1
	/src/app/a.go:2 +0x1
`, []want{{id: 6, parent: 1, status: "running", origin: "main.main /src/app/a.go:2", start: "main.spin", frames: 1}}, []string{"appear twice"}},
		{"a crash traceback that stops before runtime.goexit has no start", `goroutine 65 gp=0xc000003500 m=2 mp=0xc000080008 [running]:
time.now()
	/go/src/runtime/time_linux_amd64.s:45 +0x1e fp=0xc00006ef50 sp=0xc000110f28 pc=0x48d0c5
created by main.spawnAll in goroutine 1
	/src/app/spawn.go:102 +0x4fd
`, []want{{id: 65, parent: 1, status: "running", origin: "main.spawnAll /src/app/spawn.go:102", frames: 1}}, nil},
		{"the unwinder's complaint and hex dump end the frames, not the goroutine", `goroutine 65 [running]:
time.now()
	/go/src/runtime/time_linux_amd64.s:45 +0x1e
runtime: g 65: unexpected return pc for time.now called from 0x7ffd5a3c2b40
stack: frame={sp:0xc000110f28, fp:0xc000110f50} stack=[0xc000110000,0xc000111000)
0x000000c000110f18:  0x0000000000000000  0x000000c000110f50
0x000000c000110f28: <0x0000000000471ee1  0x0000000000000001 
  ^ SP
created by main.spawnAll in goroutine 1
	/src/app/spawn.go:102 +0x4fd

goroutine 66 [chan receive]:
main.worker()
	/src/app/a.go:9 +0x1
created by main.main in goroutine 1
	/src/app/a.go:2 +0x1
`, []want{
			{id: 65, parent: 1, status: "running", origin: "main.spawnAll /src/app/spawn.go:102", frames: 1},
			{id: 66, parent: 1, status: "waiting", reason: "chan receive", origin: "main.main /src/app/a.go:2", start: "main.worker", frames: 1},
		}, nil},
		{"a running goroutine without its stack", `goroutine 6 [running]:
	goroutine running on other thread; stack unavailable
created by main.main in goroutine 1
	/src/app/a.go:2 +0x1
`, []want{{id: 6, parent: 1, status: "running", origin: "main.main /src/app/a.go:2"}}, nil},
		{"synctest: a durable mark is taken off, a durable reason kept", `goroutine 8 [sleep (durable), synctest bubble 3]:
main.f()
	/src/app/a.go:9 +0x1
created by main.g in goroutine 7
	/src/app/a.go:2 +0x1

goroutine 9 [chan receive (durable), synctest group 3]:
main.f()
	/src/app/a.go:9 +0x1
created by main.g in goroutine 7
	/src/app/a.go:2 +0x1
`, []want{
			{id: 8, parent: 7, status: "waiting", reason: "sleep", origin: "main.g /src/app/a.go:2", start: "main.f", frames: 1},
			{id: 9, parent: 7, status: "waiting", reason: "chan receive (durable)", origin: "main.g /src/app/a.go:2", start: "main.f", frames: 1},
		}, nil},
		{"leaked and scan marks", `goroutine 11 [chan send (leaked)]:
main.f()
	/src/app/a.go:9 +0x1
created by main.g in goroutine 1
	/src/app/a.go:2 +0x1

goroutine 12 [semacquire (scan)]:
main.f()
	/src/app/a.go:9 +0x1
created by main.g in goroutine 1
	/src/app/a.go:2 +0x1
`, []want{
			{id: 11, parent: 1, status: "leaked", reason: "chan send", origin: "main.g /src/app/a.go:2", start: "main.f", frames: 1},
			{id: 12, parent: 1, status: "waiting", reason: "semacquire", origin: "main.g /src/app/a.go:2", start: "main.f", frames: 1},
		}, nil},
		{"labels: the go1.26 form inside the brackets, the go1.27 form after", `goroutine 13 [chan receive, 2 minutes labels:{"tenant": "a b", "task": "x]"}]:
main.f()
	/src/app/a.go:9 +0x1
created by main.g in goroutine 1
	/src/app/a.go:2 +0x1

goroutine 14 [chan receive, 2 minutes] {task: labeled, tenant: "a b", "k:1": ""}:
main.f()
	/src/app/a.go:9 +0x1
created by main.g in goroutine 1
	/src/app/a.go:2 +0x1
`, []want{
			{id: 13, parent: 1, status: "waiting", reason: "chan receive", wait: 120, origin: "main.g /src/app/a.go:2", start: "main.f", frames: 1, labels: map[string]string{"tenant": "a b", "task": "x]"}},
			{id: 14, parent: 1, status: "waiting", reason: "chan receive", wait: 120, origin: "main.g /src/app/a.go:2", start: "main.f", frames: 1, labels: map[string]string{"tenant": "a b", "task": "labeled", "k:1": ""}},
		}, nil},
		{"elided frames: in the middle the start stays known, at the end it is not", `goroutine 15 [chan receive]:
main.deep(...)
	/src/app/a.go:9
...5 frames elided...
main.top()
	/src/app/a.go:20 +0x1
created by main.g in goroutine 1
	/src/app/a.go:2 +0x1

goroutine 16 [chan receive]:
main.deep(...)
	/src/app/a.go:9
main.deep(0x1)
	/src/app/a.go:10 +0x1
...additional frames elided...
created by main.g in goroutine 1
	/src/app/a.go:2 +0x1
`, []want{
			{id: 15, parent: 1, status: "waiting", reason: "chan receive", origin: "main.g /src/app/a.go:2", start: "main.top", frames: 2},
			{id: 16, parent: 1, status: "waiting", reason: "chan receive", origin: "main.g /src/app/a.go:2", frames: 2},
		}, nil},
		{"tracebackancestors blocks are skipped", `goroutine 17 [chan receive]:
main.f()
	/src/app/a.go:9 +0x1
created by main.g in goroutine 4
	/src/app/a.go:2 +0x1
[originating from goroutine 4]:
main.g(...)
	/src/app/a.go:3 +0x1
created by main.main in goroutine 1
	/src/app/a.go:1 +0x1
[originating from goroutine 1]:
main.main(...)
	/src/app/a.go:1 +0x1

goroutine 18 [sleep]:
main.f()
	/src/app/a.go:9 +0x1
created by main.g in goroutine 4
	/src/app/a.go:2 +0x1
`, []want{
			{id: 17, parent: 4, status: "waiting", reason: "chan receive", origin: "main.g /src/app/a.go:2", start: "main.f", frames: 1},
			{id: 18, parent: 4, status: "waiting", reason: "sleep", origin: "main.g /src/app/a.go:2", start: "main.f", frames: 1},
		}, nil},
		{"a panic inside test output, with a cgo frame", `=== RUN   TestX
panic: boom [recovered]
	panic: boom

goroutine 19 [running]:
non-Go function at pc=0x7f0000001234
main.crash({0x4b2e40, 0xc000012345})
	/src/app/a.go:9 +0x1
created by main.g in goroutine 1
	/src/app/a.go:2 +0x1
exit status 2
FAIL	example.com/app	0.012s
`, []want{{id: 19, parent: 1, status: "running", origin: "main.g /src/app/a.go:2", start: "main.crash", frames: 2}}, nil},
		{"windows line endings", strings.ReplaceAll(recvBlock, "\n", "\r\n"), []want{recv5}, nil},
		{"a log prefix on every line", prefixed("2026/11/27 08:00:00 ", recvBlock), []want{recv5}, nil},
		{"a log prefix with a changing timestamp", strings.Replace(prefixed("2026/11/27 08:00:00 app: ", recvBlock), "08:00:00 app: \t/src/app/spawn.go:33", "08:00:01 app: \t/src/app/spawn.go:33", 1), []want{recv5}, nil},
		{"a log prefix on the header only", "Nov 27 08:00:00 host app[42]: " + recvBlock, []want{recv5}, nil},
		{"the dump ends inside the last goroutine", recvBlock + "\n" + `goroutine 20 [select]:
main.f()
	/src/app/a.go:9 +0x1
main.g(0x1, 0x2`, []want{recv5, {id: 20, status: "waiting", reason: "select", start: "main.f", frames: 1}}, []string{"ends inside goroutine 20"}},
		{"text after the dump without a final newline is not a cut goroutine", recvBlock + "exit status 2", []want{recv5}, nil},
		{"an inlined frame is marked", `goroutine 21 [chan receive]:
main.inner(...)
	/src/app/a.go:9
main.outer()
	/src/app/a.go:20 +0x1
created by main.g in goroutine 1
	/src/app/a.go:2 +0x1
`, []want{{id: 21, parent: 1, status: "waiting", reason: "chan receive", origin: "main.g /src/app/a.go:2", start: "main.outer", frames: 2}}, nil},
		{"paths with spaces and generic names", `goroutine 22 [chan send]:
main.genericWait[...](0xc000010000)
	/home/me/My Project/a.go:9 +0x1
created by main.spawnGeneric[...] in goroutine 1
	/home/me/My Project/a.go:2 +0x1
`, []want{{id: 22, parent: 1, status: "waiting", reason: "chan send", origin: "main.spawnGeneric[...] /home/me/My Project/a.go:2", start: "main.genericWait[...]", frames: 1}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(strings.NewReader(tt.text), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Goroutines) != len(tt.want) {
				t.Fatalf("%d goroutines, want %d: %+v", len(s.Goroutines), len(tt.want), s.Goroutines)
			}
			for i, w := range tt.want {
				w.check(t, s.Goroutines[i])
			}
			all := strings.Join(s.Warnings, "\n")
			for _, w := range tt.warns {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", s.Warnings, w)
				}
			}
			if len(tt.warns) == 0 && len(s.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", s.Warnings)
			}
			if s.Source.Kind != "dump" || s.Source.Backend != "text" {
				t.Errorf("source %+v, want kind dump, backend text", s.Source)
			}
		})
	}
}

func prefixed(p, text string) string {
	lines := strings.SplitAfter(text, "\n")
	for i := range lines {
		if lines[i] != "" {
			lines[i] = p + lines[i]
		}
	}
	return strings.Join(lines, "")
}

const debug1Text = `goroutine profile: total 23
13 @ 0x48a5ae 0x41afce 0x41ab12 0x6786b7 0x491d01
#	0x6786b6	main.blockRecv+0x36	/src/app/spawn.go:133

7 @ 0x48a5ae 0x4686d2 0x4686a9 0x48bae5 0x49983d 0x678cd0 0x678ca7 0x678ca6 0x491d01
#	0x48bae4	internal/sync.runtime_SemacquireMutex+0x24	/go/src/runtime/sema.go:95
#	0x678ca6	sync.(*Mutex).Lock+0x26				/go/src/sync/mutex.go:46
#	0x678ca5	main.spawnAll.func1+0x25			/src/app/spawn.go:41

3 @ 0x48a5ae 0x41afce 0x41ab12 0x678dd7 0x491d01
# labels: {"task":"labeled", "tenant":"a b"}
#	0x678dd6	main.blockRecv+0x36	/src/app/spawn.go:133
`

func TestDebug1(t *testing.T) {
	s, err := Parse(strings.NewReader(debug1Text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Goroutines) != 23 {
		t.Fatalf("%d goroutines, want 23 (the counts expanded)", len(s.Goroutines))
	}
	if len(s.Warnings) != 1 || s.Warnings[0] != Debug1Warning {
		t.Errorf("warnings %q, want the debug=1 warning", s.Warnings)
	}
	lab := map[string]string{"task": "labeled", "tenant": "a b"}
	for i, g := range s.Goroutines {
		w := want{status: "unknown", start: "main.blockRecv", frames: 1}
		switch {
		case i >= 13 && i < 20:
			w.start, w.frames = "main.spawnAll.func1", 3
		case i >= 20:
			w.labels = lab
		}
		w.check(t, g)
	}
	groups := snapshot.GroupBy(s.Goroutines, snapshot.Key{Kind: "start"})
	if len(groups) != 2 || groups[0].Key != "main.blockRecv" || groups[0].Count != 16 {
		t.Errorf("grouped by start: %+v, want main.blockRecv 16 first", groups)
	}
}

func TestNotADump(t *testing.T) {
	for _, text := range []string{"", "hello\nworld\n", "goroutine profile is nice\n", "\x1f\x8bgarbage", "{}", `{"schema": "x"}`} {
		_, err := Parse(strings.NewReader(text), Options{})
		if err == nil {
			t.Errorf("Parse(%q) = nil error, want one", text)
		}
	}
	if _, err := Parse(strings.NewReader("nothing here"), Options{}); !errors.Is(err, ErrNoDump) {
		t.Errorf("Parse(text without a dump) = %v, want ErrNoDump", err)
	}
}

func TestReaderStreams(t *testing.T) {
	r := NewReader(strings.NewReader(recvBlock + "noise\n" + recvBlock))
	for range 2 {
		g, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		recv5.check(t, g)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("third Next = %v, want io.EOF", err)
	}
}
