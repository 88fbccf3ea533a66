package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestReportPprofFromFixture attaches to the fixture with --format pprof and reads the
// profile back with the pprof package: each go statement of the fixture source has as
// many samples labelled with it as its GO-STATEMENT marker says, and go tool pprof reads
// the file.
func TestReportPprofFromFixture(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	v := hostVariant(t)
	e := expect(t, v, 0)
	f := startFixture(t, fixtureBinary(t, v), "-n", "0")
	out := filepath.Join(t.TempDir(), "goroutines.pb.gz")
	r := runGorigin(t, nil, "attach", strconv.Itoa(f.Pid), "--format", "pprof", "-o", out)
	if r.Code != 0 {
		t.Fatalf("%v", r)
	}
	testenv.CheckRunsFreely(t, f.Pid, 100*time.Millisecond)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("profile.Parse: %v", err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("CheckValid: %v", err)
	}
	byOrigin := map[string]int{}
	for _, s := range p.Sample {
		for _, o := range s.Label["origin"] {
			byOrigin[o] += int(s.Value[0])
		}
	}
	checked := 0
	for _, s := range e.stmts {
		if s.External || s.Count == 0 {
			continue
		}
		key := fmt.Sprintf("%s %s:%d", s.Func, sourcePath(t, v, s.File), s.Line)
		got := 0
		for o, n := range byOrigin { // the origin's function may be a closure in s.Func
			if strings.HasPrefix(o, s.Func) && strings.HasSuffix(o, fmt.Sprintf(" %s:%d", sourcePath(t, v, s.File), s.Line)) {
				got += n
			}
		}
		if got != s.Count {
			t.Errorf("go statement %s (%s): %d samples, the fixture says %d goroutines", s.Name, key, got, s.Count)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no go statement of the fixture was compared")
	}
	if goBin, err := exec.LookPath("go"); err == nil {
		cmd := exec.Command(goBin, "tool", "pprof", "-top", out)
		if text, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(text, []byte("Type: goroutines")) {
			t.Errorf("go tool pprof -top %s: %v\n%s", out, err, text)
		}
	}
}
