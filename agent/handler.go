package agent

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// Handler serves a fresh snapshot of the process as gorigin.snapshot/v1 JSON, which
// `gorigin dump URL` and `gorigin watch URL` read (they add ?debug=2, which is ignored).
// A path ending in /ring, or the query ?ring, serves the running agent's ring of samples
// instead (404 when no agent runs). Mount it on an existing mux, e.g.
// mux.Handle("/debug/gorigin/", agent.Handler()); it opens no port itself. Protect it as
// you would /debug/pprof: a snapshot shows every goroutine's stack.
func Handler() http.Handler { return http.HandlerFunc(serve(nil)) }

// Handler is the package Handler with this agent's ring.
func (a *Agent) Handler() http.Handler { return http.HandlerFunc(serve(a)) }

func serve(a *Agent) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "gorigin agent: GET only", http.StatusMethodNotAllowed)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/ring") || r.URL.Query().Has("ring") {
			ag := a
			if ag == nil {
				currentMu.Lock()
				ag = current
				currentMu.Unlock()
			}
			if ag == nil {
				http.Error(w, "gorigin agent: no agent is running (agent.Start), so there is no ring", http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			enc.Encode(ag.Ring())
			return
		}
		s, err := Snapshot()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		snapshot.Encode(w, s)
	}
}
