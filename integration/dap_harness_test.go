package integration

// Driving "gorigin dap" from tests: the adapter as a child process on stdin/stdout or on
// TCP, a DAP client on it (dap/daptest, go-dap's codec), and the snapshot an IDE user
// would see, read back through threads and variables only, for the oracle comparisons.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	godap "github.com/google/go-dap"

	"github.com/gorigin-dev/gorigin/dap/daptest"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// dapChild is a running "gorigin dap".
type dapChild struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan error
}

// startDAP starts "gorigin dap" with args; Cleanup kills it by pid if it still runs.
func startDAP(t *testing.T, args ...string) (*dapChild, io.WriteCloser, io.Reader) {
	t.Helper()
	cmd := exec.Command(needGorigin(t), append([]string{"dap"}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &dapChild{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gorigin dap: %v", err)
	}
	go func() { d.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() // ours, by pid
			<-d.exited
		}
	})
	return d, stdin, stdout
}

// wait waits for the adapter to exit by itself and returns its error.
func (d *dapChild) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-d.exited:
		d.exited <- err // for Cleanup
		return err
	case <-time.After(within):
		t.Fatalf("gorigin dap still runs %v after the session ended\nstderr:\n%s", within, d.stderr)
		return nil
	}
}

type pipeConn struct {
	io.Reader
	io.WriteCloser
}

// dapStdio starts "gorigin dap" and returns a client on its stdin/stdout.
func dapStdio(t *testing.T) (*daptest.Client, *dapChild) {
	t.Helper()
	d, stdin, stdout := startDAP(t)
	return daptest.New(t, pipeConn{stdout, stdin}), d
}

var listeningRE = regexp.MustCompile(`gorigin dap: listening on (\S+)`)

// dapTCP starts "gorigin dap --listen 127.0.0.1:0" and returns a client connected to it.
func dapTCP(t *testing.T) (*daptest.Client, *dapChild) {
	t.Helper()
	cmd := exec.Command(needGorigin(t), "dap", "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &dapChild{cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gorigin dap --listen: %v", err)
	}
	go func() { d.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill() // a listening adapter runs until killed; ours, by pid
		<-d.exited
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.stderr.Write([]byte(sc.Text() + "\n"))
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var a string
	select {
	case a = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatalf("gorigin dap --listen did not say where it listens\nstderr:\n%s", d.stderr)
	}
	conn, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return daptest.New(t, conn), d
}

// scopeRef is the variables reference of the first scope whose name starts with prefix.
func scopeRef(t *testing.T, scopes []godap.Scope, prefix string) godap.Scope {
	t.Helper()
	for _, s := range scopes {
		if strings.HasPrefix(s.Name, prefix) {
			return s
		}
	}
	t.Fatalf("no scope %q in %+v", prefix, scopes)
	return godap.Scope{}
}

// snapshotThroughDAP is what an IDE user can see, read back into the snapshot model
// through variables only: the Groups scope of the first thread's top frame, every group,
// and every goroutine of every group with its fields. It also returns the groups' counts
// as the Group variables say them.
func snapshotThroughDAP(t *testing.T, c *daptest.Client, pid int) (*snapshot.Snapshot, map[string]int) {
	t.Helper()
	threads := c.Threads()
	if len(threads) == 0 {
		t.Fatal("no threads")
	}
	frames := c.StackTrace(threads[0].Id)
	if len(frames) == 0 {
		t.Fatalf("thread %q has no frames", threads[0].Name)
	}
	groupsScope := scopeRef(t, c.Scopes(frames[0].Id), "Groups")
	groups := c.AllIndexed(groupsScope.VariablesReference, groupsScope.IndexedVariables, 100)
	if len(groups) != groupsScope.IndexedVariables || len(groups) == 0 {
		t.Fatalf("the Groups scope says %d groups, paging gave %d", groupsScope.IndexedVariables, len(groups))
	}
	snap := &snapshot.Snapshot{Schema: snapshot.Schema, Source: snapshot.Source{Kind: "live", Pid: pid}}
	counts := map[string]int{}
	for _, gv := range groups {
		fields := c.Variables(gv.VariablesReference, nil)
		key := daptest.Find(t, fields, "key").Value
		n, err := strconv.Atoi(daptest.Find(t, fields, "count").Value)
		if err != nil {
			t.Fatalf("group %s count: %v", key, err)
		}
		counts[key] = n
		members := daptest.Find(t, fields, "goroutines")
		if members.IndexedVariables != n {
			t.Errorf("group %s: count %d, %d goroutines to page through", key, n, members.IndexedVariables)
		}
		for _, mv := range c.AllIndexed(members.VariablesReference, members.IndexedVariables, 500) {
			snap.Goroutines = append(snap.Goroutines, goroutineThroughDAP(t, c, mv))
		}
	}
	return snap, counts
}

var locRE = regexp.MustCompile(`^(\S+) (.+):(\d+)$`)

// parseLoc reads a Location back from its String form ("func file:line").
func parseLoc(s string) *snapshot.Location {
	if m := locRE.FindStringSubmatch(s); m != nil {
		line, _ := strconv.Atoi(m[3])
		return &snapshot.Location{Func: m[1], File: m[2], Line: line}
	}
	if s == "" || strings.HasPrefix(s, "(") {
		return nil
	}
	return &snapshot.Location{Func: s}
}

var parentRE = regexp.MustCompile(`^goroutine (\d+)`)

func goroutineThroughDAP(t *testing.T, c *daptest.Client, v godap.Variable) snapshot.Goroutine {
	t.Helper()
	fields := c.Variables(v.VariablesReference, nil)
	get := func(name string) string { return daptest.Find(t, fields, name).Value }
	var g snapshot.Goroutine
	var err error
	if g.ID, err = strconv.ParseInt(get("id"), 10, 64); err != nil {
		t.Fatalf("%s: id %q", v.Name, get("id"))
	}
	g.Status = snapshot.Status(get("status"))
	if r := get("waitReason"); r != "-" {
		g.WaitReason = r
	}
	g.Origin, g.Start = parseLoc(get("origin")), parseLoc(get("start"))
	if m := parentRE.FindStringSubmatch(get("parent")); m != nil {
		g.ParentID, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if labels := daptest.Find(t, fields, "labels"); labels.VariablesReference != 0 {
		g.Labels = map[string]string{}
		for _, l := range c.Variables(labels.VariablesReference, nil) {
			g.Labels[l.Name] = l.Value
		}
	}
	for _, f := range fields {
		switch f.Name {
		case "lockedToThread":
			g.LockedToThread = f.Value == "true"
		case "changed":
			g.Changed = true
		case "system":
			g.System = f.Value == "true"
		}
	}
	return g
}

// runGoriginInput runs gorigin with args and input on its stdin, and waits at most a minute.
func runGoriginInput(t *testing.T, input string, args ...string) *goriginRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, needGorigin(t), args...)
	cmd.Stdin = strings.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := &goriginRun{Args: args, Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Elapsed: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("gorigin %s did not finish within a minute", strings.Join(args, " "))
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run gorigin: %v", err)
	}
	return r
}
