package integration

import (
	"strconv"
	"testing"
	"time"

	"github.com/gorigin-dev/gorigin/dap/daptest"
	"github.com/gorigin-dev/gorigin/internal/testenv"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestDAPDelveBackends: attach requests with "backend": "delve" (Delve embedded) and with
// "dlv": HOST:PORT (a running headless dlv, no processId: dlv names the process) show,
// through variables alone, what the native backend's attach request shows, go statement
// by go statement and field by field, and what the runtime's own dump says; the process
// runs on, and the headless dlv is left running and serving other clients.
func TestDAPDelveBackends(t *testing.T) {
	needGorigin(t)
	testenv.NeedPtrace(t)
	dlv := needDlv(t)
	v := hostVariant(t)
	e := expect(t, v, extraGoroutines)
	f := startFixture(t, fixtureBinary(t, v), "-n", strconv.Itoa(extraGoroutines))

	// through is one DAP session: attach with args, read everything back, disconnect.
	through := func(t *testing.T, args map[string]any) (*snapshot.Snapshot, string) {
		t.Helper()
		c, d := dapStdio(t)
		c.Handshake("attach", args)
		snap, _ := snapshotThroughDAP(t, c, f.Pid)
		frames := c.StackTrace(c.Threads()[0].Id)
		src := c.Variables(scopeRef(t, c.Scopes(frames[0].Id), "Snapshot").VariablesReference, nil)
		backend := daptest.Find(t, src, "backend").Value
		if pid := daptest.Find(t, src, "pid").Value; pid != strconv.Itoa(f.Pid) {
			t.Errorf("attach %v: the Snapshot scope says pid %s, want %d", args, pid, f.Pid)
		}
		c.Call("disconnect", nil)
		if err := d.wait(t, 10*time.Second); err != nil {
			t.Errorf("gorigin dap: %v\nstderr:\n%s", err, d.stderr)
		}
		return snap, backend
	}

	before := f.debug2(t)
	native, _ := through(t, map[string]any{"processId": f.Pid})
	embedded, backend := through(t, map[string]any{"processId": f.Pid, "backend": "delve"})
	if backend != "delve" {
		t.Errorf(`"backend": "delve": the snapshot's backend is %q`, backend)
	}
	testenv.CheckRunsFreely(t, f.Pid, time.Second)

	addr := startHeadlessDlv(t, dlv, f.Pid)
	viaDlv, backend := through(t, map[string]any{"dlv": addr})
	if backend != "dlv" {
		t.Errorf(`"dlv": %q: the snapshot's backend is %q, want dlv`, addr, backend)
	}
	checkDlvState(t, addr, true) // running again, and dlv serves another client
	checkRunsUnderDebugger(t, f.Pid)
	after := f.debug2(t)

	for name, snap := range map[string]*snapshot.Snapshot{"native": native, "delve": embedded, "dlv": viaDlv} {
		t.Run(name, func(t *testing.T) { compareWithOracle(t, e, snap, before, after, compareOptions{}) })
	}
	compareSnapshots(t, e, embedded, native)
	compareSnapshots(t, e, viaDlv, native)

	stopHeadlessDlv(t, addr)
	testenv.CheckRunsFreely(t, f.Pid, 2*time.Second)
	f.checkAnswers(t)
	checkNoGuards(t, addr)
}
