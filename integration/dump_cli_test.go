package integration

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/dump"
)

// TestDumpCommandInput: bad sources exit with status 2 and say what is wrong; a server
// that refuses debug=2 is asked for debug=1, and the snapshot says so; --by location
// works on a dump without --stacks.
func TestDumpCommandInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.txt")
	if err := os.WriteFile(garbage, []byte("hello\nthis is not a dump\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	debug2 := filepath.Join(dir, "debug2.txt")
	if err := os.WriteFile(debug2, []byte("goroutine 1 [chan receive]:\nmain.blockRecv(...)\n\t/src/spawn.go:133\nmain.main()\n\t/src/main.go:9 +0x1d\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	debug1 := "goroutine profile: total 2\n2 @ 0x48a5ae 0x491d01\n#\t0x6786b6\tmain.blockRecv+0x36\t/src/spawn.go:133\n\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/debug/pprof/goroutine" || r.URL.Query().Get("debug") != "1" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		w.Write([]byte(debug1))
	}))
	t.Cleanup(srv.Close)
	refusing := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(refusing.Close)

	for _, tt := range []struct {
		args []string
		code int
		out  string // in stdout (code 0) or stderr
	}{
		{[]string{"dump", filepath.Join(dir, "missing.txt")}, 2, "no such file"},
		{[]string{"dump", garbage}, 2, "no goroutine dump found"},
		{[]string{"dump", dir}, 2, "directory"},
		{[]string{"dump"}, 2, "dump takes one source"},
		{[]string{"dump", refusing.URL}, 2, "answered no goroutine profile"},
		{[]string{"dump", srv.URL + "/debug/pprof/goroutine", "--format", "json"}, 0, "refused debug=2"},
		{[]string{"diff", garbage}, 2, "diff takes two sources"},
		// A dump holds the frames: grouping by the top frame needs no --stacks.
		{[]string{"dump", debug2, "--by", "location"}, 0, "spawn.go:133"},
	} {
		r := runGorigin(t, nil, tt.args...)
		text := string(r.Stderr)
		if tt.code == 0 {
			text = string(r.Stdout)
		}
		if r.Code != tt.code || !strings.Contains(text, tt.out) {
			t.Errorf("gorigin %s: exit %d, want %d and %q in\n%s%s", strings.Join(tt.args, " "), r.Code, tt.code, tt.out, r.Stdout, r.Stderr)
		}
	}
	s := dumpJSON(t, srv.URL+"/debug/pprof/goroutine")
	if len(s.Goroutines) != 2 || !slicesContain(s.Warnings, dump.Debug1Warning) {
		t.Errorf("the debug=1 fallback: %d goroutines, warnings %q", len(s.Goroutines), s.Warnings)
	}
}
