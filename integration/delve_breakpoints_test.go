package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/go-delve/delve/pkg/proc/native"

	"github.com/gorigin-dev/gorigin/dbg/delve"
	"github.com/gorigin-dev/gorigin/internal/testenv"
)

// TestDelveAttachWritesBreakpoints states what Delve's own attach writes into a process,
// which the embedded backend (gorigin attach --backend delve) cannot prevent: Delve
// v1.27.2's native.Attach, with nothing asked of it, leaves int3 bytes in the crash
// functions (crashFuncs). gorigin's backend removes them as soon as Delve's attach
// returns, so that while frozen and after, the process's code is the executable's.
// Between the two (Delve writing them and gorigin clearing them, inside one Freeze call)
// a SIGKILL of gorigin would leave them: the process would run on, but a later crash in
// it would end with SIGTRAP instead of the runtime's panic message.
func TestDelveAttachWritesBreakpoints(t *testing.T) {
	testenv.NeedPtrace(t)
	bin := fixtureBinary(t, hostVariant(t))
	f := startFixture(t, bin, "-n", "3")

	// Delve alone.
	grp, err := native.Attach(f.Pid, nil, nil)
	if err != nil {
		t.Fatalf("delve native.Attach %d: %v", f.Pid, err)
	}
	written := textChanges(t, f.Pid, bin)
	n := len(grp.Selected.Breakpoints().M)
	if err := grp.Detach(false); err != nil {
		t.Fatalf("delve detach: %v", err)
	}
	testenv.CheckRunsFreely(t, f.Pid, 2*time.Second)
	if len(written) == 0 || n == 0 {
		t.Fatalf("Delve's attach wrote nothing into the crash functions (%d breakpoints): if it no longer does, say so in dbg/delve", n)
	}
	for _, w := range written {
		if !strings.Contains(w, "process 0xcc") {
			t.Errorf("%s: Delve wrote something else than an int3", w)
		}
	}
	t.Logf("Delve's attach sets %d breakpoints:\n  %s", n, strings.Join(written, "\n  "))
	checkNoBreakpoints(t, f.Pid, bin) // Delve's detach took them out again

	// gorigin's backend: frozen, the code is the executable's.
	p, err := delve.Attach(f.Pid, delve.Options{MaxFreeze: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Freeze(); err != nil {
		t.Fatalf("freeze %d: %v", f.Pid, err)
	}
	if _, err := testenv.WaitAllTraceStopped(f.Pid, 0); err != nil {
		t.Errorf("pid %d not stopped by the delve backend's freeze: %v", f.Pid, err)
	}
	checkNoBreakpoints(t, f.Pid, bin)
	if err := p.Thaw(); err != nil {
		t.Fatalf("thaw %d: %v", f.Pid, err)
	}
	testenv.CheckRunsFreely(t, f.Pid, 2*time.Second)
	checkNoBreakpoints(t, f.Pid, bin)
	f.checkAnswers(t)
}
