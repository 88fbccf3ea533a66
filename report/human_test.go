package report

import (
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func TestThousands(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 2047: "2,047", 100000: "100,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestHumanWait(t *testing.T) {
	tests := []struct {
		sec  float64
		want string
	}{
		{0, "-"}, {0.4, "<1s"}, {1, "1s"}, {45.9, "45s"}, {60, "1m"}, {14*60 + 59, "14m"},
		{3600, "1h"}, {3*3600 + 12*60 + 5, "3h12m"}, {86400, "1d"}, {2*86400 + 4*3600 + 59*60, "2d4h"}, {400 * 86400, "400d"},
	}
	for _, tt := range tests {
		if got := humanWait(tt.sec); got != tt.want {
			t.Errorf("humanWait(%v) = %q, want %q", tt.sec, got, tt.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		b    int64
		want string
	}{
		{0, "-"}, {512, "512B"}, {1024, "1K"}, {8192, "8K"}, {90112, "88K"}, {1993 * 8192, "15.6M"}, {3 << 30, "3.0G"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.b); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.b, got, tt.want)
		}
	}
}

func TestShortNames(t *testing.T) {
	funcs := map[string]string{
		"main.main":                                               "main.main",
		"github.com/acme/api/server.(*S).serve":                   "server.(*S).serve",
		"gopkg.in/yaml.v3.(*parser).parse":                        "yaml.(*parser).parse", // the package's name, not its major version
		"gopkg.in/yaml%2ev3.handleErr":                            "yaml.handleErr",       // the linker's spelling of the same
		"github.com/caddyserver/caddy/v2.replaceLocalAdminServer": "caddy.replaceLocalAdminServer",
		"github.com/caddyserver/caddy/v2.(*App).Start.func1":      "caddy.(*App).Start.func1",
		"go.etcd.io/raft/v3.StartNode":                            "raft.StartNode",
		"github.com/a/b/v2/sub.F":                                 "sub.F",
		"example.com/p.v2":                                        "p.v2", // a function named v2
		"example.com/p.v2.func1":                                  "p.v2.func1",
		"example.com/p.F[example.com/q.T]":                        "p.F[...]",
		"example.com/p.(*Set[...]).Add":                           "p.(*Set[...]).Add",
		"p.Map[map[string]example.com/q.T,int]":                   "p.Map[...]",
		"net/http.(*conn).serve.func1":                            "http.(*conn).serve.func1",
	}
	for in, want := range funcs {
		if got := shortFunc(in); got != want {
			t.Errorf("shortFunc(%q) = %q, want %q", in, got, want)
		}
	}
	files := map[string]string{
		"/home/dev/api/cmd/api/main.go": "api/main.go",
		"api/main.go":                   "api/main.go",
		"main.go":                       "main.go",
		"/main.go":                      "/main.go",
		"C:/src/main.go":                "src/main.go",
	}
	for in, want := range files {
		if got := shortFile(in); got != want {
			t.Errorf("shortFile(%q) = %q, want %q", in, got, want)
		}
	}
	if got := shortLoc(&snapshot.Location{Func: "main.main", File: "/a/b/c.go", Line: 9}); got != "main.main  b/c.go:9" {
		t.Errorf("shortLoc = %q", got)
	}
}
