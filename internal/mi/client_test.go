package mi

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeGDB writes a shell script standing in for gdb.
func fakeGDB(t *testing.T, body string) string {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run a fake gdb")
	}
	p := filepath.Join(t.TempDir(), "gdb")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientMatchesAnswersByToken(t *testing.T) {
	// Answers arrive after noise: raw text, an answer to nobody, stream output, async records.
	c, err := Start(Options{Path: fakeGDB(t, `
while read line; do
  tok=${line%%-*}
  echo "warning: something odd"
  echo "999^done,stale=\"1\""
  printf '%s\n' '~"console \"text\"\n"'
  echo '=thread-created,id="1",group-id="i1"'
  echo "${tok}^done,echo=\"${line#*-}\""
  echo "(gdb) "
done`)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(time.Second)
	for _, cmd := range []string{"-first", "-second x"} {
		rec, out, err := c.Run(context.Background(), 5*time.Second, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if got := rec.Results.String("echo"); got != strings.TrimPrefix(cmd, "-") {
			t.Errorf("%s answered %q", cmd, got)
		}
		if out != "console \"text\"\n" {
			t.Errorf("%s console output %q", cmd, out)
		}
	}
	if odd := c.Odd(); len(odd) == 0 || odd[0] != "warning: something odd" {
		t.Errorf("odd lines %q", odd)
	}
}

func TestClientErrorAnswer(t *testing.T) {
	c, err := Start(Options{Path: fakeGDB(t, `read line; echo "1^error,msg=\"Unable to read memory.\""; sleep 5`)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(time.Second)
	_, _, err = c.Run(context.Background(), 5*time.Second, "-data-read-memory-bytes 0 8")
	var ge *Error
	if !errors.As(err, &ge) || ge.Msg != "Unable to read memory." {
		t.Fatalf("got %v, want a gdb error", err)
	}
}

func TestClientDeadGDBFailsEveryCall(t *testing.T) {
	c, err := Start(Options{Path: fakeGDB(t, `read line; echo "garbage {{{"; echo "fatal: out of luck" >&2; exit 3`)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < 3; i++ {
		_, _, err := c.Run(context.Background(), time.Minute, "-gdb-version")
		if !errors.Is(err, ErrDead) {
			t.Fatalf("call %d: got %v, want ErrDead", i, err)
		}
		if !strings.Contains(err.Error(), "out of luck") {
			t.Errorf("error %q does not carry gdb's last words", err)
		}
	}
	// Each call may wait a minute for an answer: three that did not wait for one take
	// far less than that, however busy the machine.
	if d := time.Since(start); d > time.Minute {
		t.Errorf("calls to a dead gdb took %v: they waited for an answer", d)
	}
	c.Close(time.Second)
}

func TestClientHungGDBTimesOutAndIsKilled(t *testing.T) {
	c, err := Start(Options{Path: fakeGDB(t, `trap "" TERM INT; while :; do sleep 1; done`)})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Run(context.Background(), 200*time.Millisecond, "-gdb-version")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	// A GDB that did not answer once is not asked again: the next call fails at once.
	start := time.Now()
	if _, _, err := c.Run(context.Background(), time.Minute, "-exec-continue --all"); !errors.Is(err, ErrTimeout) {
		t.Errorf("the call after a timeout: got %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the call after a timeout took %v: it waited for its minute", d)
	}
	// The hung gdb ignores SIGTERM and never exits by itself: a Close that ends at all
	// (within a generous 30s) killed it.
	start = time.Now()
	c.Close(300 * time.Millisecond)
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("Close of a hung gdb took %v", d)
	}
	select {
	case <-c.Dead():
	default:
		t.Error("gdb still alive after Close")
	}
}

func TestClientRealGDB(t *testing.T) {
	if _, err := exec.LookPath("gdb"); err != nil {
		t.Skip("gdb is not installed (.ci/run installs it)")
	}
	c, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(2 * time.Second)
	_, out, err := c.Run(context.Background(), 30*time.Second, "-gdb-version")
	if err != nil || !strings.Contains(out, "GNU gdb") {
		t.Fatalf("-gdb-version: %v %q", err, out)
	}
	rec, _, err := c.Run(context.Background(), 30*time.Second, `-data-evaluate-expression "6*4"`)
	if err != nil || rec.Results.String("value") != "24" {
		t.Fatalf("evaluate: %v %+v", err, rec)
	}
	_, _, err = c.Run(context.Background(), 30*time.Second, "-no-such-command")
	var ge *Error
	if !errors.As(err, &ge) || !strings.Contains(ge.Msg, "no-such-command") {
		t.Fatalf("unknown command: %v", err)
	}
	// A script a target might embed must not load: auto-load is off.
	_, out, err = c.Run(context.Background(), 30*time.Second, `-interpreter-exec console "show auto-load python-scripts"`)
	if err != nil || !strings.Contains(out, "off") {
		t.Fatalf("auto-load python-scripts: %v %q", err, out)
	}
}
