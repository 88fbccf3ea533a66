package agent_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/agent"
	"github.com/gorigin-dev/gorigin/dump"
)

// A service starts the agent once: `kill -USR1 PID` then writes a snapshot into Dir, and
// the handler serves one to `gorigin dump URL` and `gorigin watch URL`.
func ExampleStart() {
	dir, err := os.MkdirTemp("", "gorigin-agent-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	a, err := agent.Start(agent.Options{Dir: dir, Every: 30 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Stop()

	mux := http.NewServeMux()
	mux.Handle("/debug/gorigin", a.Handler()) // the service's own mux: the agent opens no port

	// What SIGUSR1 does: a gorigin.snapshot/v1 file, read by `gorigin dump FILE`.
	path, err := a.WriteSnapshot()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(filepath.Base(path), "gorigin-"), filepath.Ext(path))

	// What `gorigin dump http://…/debug/gorigin` reads.
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/debug/gorigin")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	s, err := dump.Parse(resp.Body, dump.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Source.Backend, s.Source.Pid == os.Getpid(), len(s.Goroutines) > 0)
	// Output:
	// true .json
	// agent true true
}
