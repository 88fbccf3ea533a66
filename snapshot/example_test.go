package snapshot_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// A snapshot saved with `gorigin attach PID --format json` (or taken by package capture,
// dump or agent) is read back and grouped by the go statement that created each
// goroutine, largest group first.
func ExampleGroupSnapshot() {
	const doc = `{"schema": "gorigin.snapshot/v1",
	 "source": {"kind": "dump", "backend": "text"},
	 "goroutines": [
	  {"id": 1, "status": "waiting", "waitReason": "select", "start": {"func": "runtime.main"}},
	  {"id": 7, "status": "waiting", "waitReason": "chan receive",
	   "origin": {"func": "main.main", "file": "/src/app/main.go", "line": 94},
	   "start": {"func": "main.worker", "file": "/src/app/worker.go", "line": 10}},
	  {"id": 8, "status": "waiting", "waitReason": "chan receive",
	   "origin": {"func": "main.main", "file": "/src/app/main.go", "line": 94},
	   "start": {"func": "main.worker", "file": "/src/app/worker.go", "line": 10}},
	  {"id": 9, "status": "runnable",
	   "origin": {"func": "main.serve", "file": "/src/app/serve.go", "line": 31},
	   "start": {"func": "main.handle", "file": "/src/app/serve.go", "line": 40}}]}`
	s, err := snapshot.Decode(strings.NewReader(doc))
	if err != nil {
		log.Fatal(err)
	}
	key, err := snapshot.ParseKey("origin")
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range snapshot.GroupSnapshot(s, key).Groups() {
		where := "(no go statement)"
		if g.Origin != nil {
			where = fmt.Sprintf("%s:%d", g.Origin.File, g.Origin.Line)
		}
		fmt.Println(g.Count, g.States[0], where, g.Start.Func, g.Examples)
	}
	// Output:
	// 2 chan receive /src/app/main.go:94 main.worker [7 8]
	// 1 select (no go statement) runtime.main [1]
	// 1 runnable /src/app/serve.go:31 main.handle [9]
}
