// Command service is the reliability suite's target: a small HTTP service on loopback
// that a load generator keeps busy while gorigin attaches to it. It prints one line
// "ready pid=N addr=127.0.0.1:PORT" and runs until its standard input closes.
//
//	/work          a little CPU work, then "ok": what the load generator asks for
//	/stats         {"goroutines":N,"heapInuse":B,"heapObjects":N} measured after a GC
//	/spawn?n=N     start N goroutines that block for good (the "spawned" go statement)
//	/exit?after=D  exit with status 0 after D
//	/exec?after=D  after D, exec /bin/sleep 60 in place of this program (self=1: itself)
//	/debug/pprof/  net/http/pprof: the runtime's own goroutine dump is the oracle
package main

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var (
	block  = make(chan struct{})
	idleMu sync.Mutex
)

func main() {
	idle := flag.Int("n", 20, "goroutines blocked in a channel receive from the start")
	flag.Parse()
	for i := 0; i < *idle; i++ {
		go idleWorker() // GO-STATEMENT idle
	}
	go ticker() // GO-STATEMENT ticker

	http.HandleFunc("/work", work)
	http.HandleFunc("/stats", stats)
	http.HandleFunc("/spawn", spawn)
	http.HandleFunc("/exit", exit)
	http.HandleFunc("/exec", execHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go http.Serve(ln, nil) // GO-STATEMENT serve
	fmt.Printf("ready pid=%d addr=%s\n", os.Getpid(), ln.Addr())
	io.Copy(io.Discard, os.Stdin)
}

func idleWorker() { <-block }

func ticker() {
	for range time.Tick(10 * time.Millisecond) {
		idleMu.Lock()
		idleMu.Unlock()
	}
}

func work(w http.ResponseWriter, r *http.Request) {
	sum := sha256.Sum256([]byte(r.URL.RawQuery))
	for i := 0; i < 20; i++ {
		sum = sha256.Sum256(sum[:])
	}
	fmt.Fprintf(w, "ok %x\n", sum[:4])
}

func stats(w http.ResponseWriter, r *http.Request) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	json.NewEncoder(w).Encode(map[string]uint64{
		"goroutines":  uint64(runtime.NumGoroutine()),
		"heapInuse":   m.HeapInuse,
		"heapObjects": m.HeapObjects,
		"stackInuse":  m.StackInuse,
	})
}

func spawn(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	for i := 0; i < n; i++ {
		go spawned() // GO-STATEMENT spawned
	}
	fmt.Fprintf(w, "spawned %d\n", n)
}

func spawned() { <-block }

func after(r *http.Request) time.Duration {
	d, _ := time.ParseDuration(r.URL.Query().Get("after"))
	return d
}

func exit(w http.ResponseWriter, r *http.Request) {
	d := after(r)
	fmt.Fprintln(w, "exiting")
	time.AfterFunc(d, func() { os.Exit(0) })
}

func execHandler(w http.ResponseWriter, r *http.Request) {
	d := after(r)
	argv := []string{"/bin/sleep", "60"}
	if r.URL.Query().Get("self") == "1" {
		exe, err := os.Executable()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		argv = []string{exe, "-n", "3"}
	}
	fmt.Fprintln(w, "exec", argv[0])
	time.AfterFunc(d, func() {
		err := syscall.Exec(argv[0], argv, os.Environ())
		fmt.Fprintln(os.Stderr, "exec:", err)
	})
}
