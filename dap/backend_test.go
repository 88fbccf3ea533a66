package dap

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestAttachBackends: the attach request's backend and dlv arguments reach Sources.Live as
// the command line's --backend would say them, and wrong combinations are refused with
// what to write instead.
func TestAttachBackends(t *testing.T) {
	for _, c := range []struct {
		name    string
		args    string
		pid     int
		backend string
		freeze  string
		err     string
	}{
		{"default", `{"processId": 42}`, 42, "native", "always", ""},
		{"gdb", `{"processId": 42, "backend": "gdb"}`, 42, "gdb", "always", ""},
		{"delve embedded", `{"processId": "42", "backend": "delve"}`, 42, "delve", "always", ""},
		{"headless dlv", `{"processId": 42, "dlv": "127.0.0.1:2345"}`, 42, "dlv=127.0.0.1:2345", "always", ""},
		{"headless dlv named twice", `{"processId": 42, "backend": "dlv", "dlv": "127.0.0.1:2345"}`, 42, "dlv=127.0.0.1:2345", "always", ""},
		{"headless dlv knows the pid", `{"dlv": "localhost:2345"}`, 0, "dlv=localhost:2345", "always", ""},
		{"native never", `{"processId": 42, "freeze": "never"}`, 42, "native", "never", ""},
		{"no pid", `{"backend": "delve"}`, 0, "", "", "processId"},
		{"dlv without address", `{"processId": 42, "backend": "dlv"}`, 0, "", "", "needs dlv"},
		{"dlv not an address", `{"processId": 42, "dlv": "nohost"}`, 0, "", "", "HOST:PORT"},
		{"dlv and gdb", `{"processId": 42, "backend": "gdb", "dlv": "127.0.0.1:2345"}`, 0, "", "", "pick one"},
		{"delve never", `{"processId": 42, "backend": "delve", "freeze": "never"}`, 0, "", "", `backend "native"`},
		{"dlv never", `{"dlv": "127.0.0.1:1", "freeze": false}`, 0, "", "", `backend "native"`},
		{"unknown", `{"processId": 42, "backend": "lldb"}`, 0, "", "", "use native, gdb, delve, or dlv"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var pid int
			var backend, freeze string
			src := Sources{Live: func(p int, b, f string) (Source, error) {
				pid, backend, freeze = p, b, f
				return func(context.Context) (*snapshot.Snapshot, error) { return nil, nil }, nil
			}}
			_, err := open("attach", json.RawMessage(c.args), src)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("%s: error %v, want one saying %q", c.args, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", c.args, err)
			}
			if pid != c.pid || backend != c.backend || freeze != c.freeze {
				t.Errorf("%s: Live(%d, %q, %q), want Live(%d, %q, %q)", c.args, pid, backend, freeze, c.pid, c.backend, c.freeze)
			}
		})
	}
}
