package dap

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// A Source takes a new snapshot of what a session looks at each time it is called. A
// live source attaches, copies and detaches within the call: between calls the target
// runs freely and nothing holds it.
type Source func(ctx context.Context) (*snapshot.Snapshot, error)

// Sources open the sources that attach and launch requests name. A nil field is a mode
// this build does not have; a request for it gets an error response saying so.
type Sources struct {
	// Live snapshots a running process; backend is "native", "gdb", "delve" (Delve
	// embedded) or "dlv=HOST:PORT" (a running headless dlv, where pid may be 0: dlv knows
	// it), freeze "always" or "never" (native only). The source copies and unwinds every
	// goroutine's stack.
	Live func(pid int, backend, freeze string) (Source, error)
	// Core snapshots a core dump; exe may be empty (found from the core).
	Core func(corePath, exe string) (Source, error)
	// Dump reads a goroutine dump: a file or an http(s) URL of /debug/pprof/goroutine.
	Dump func(pathOrURL string) (Source, error)
}

// sessionArgs are the arguments of attach and launch requests gorigin understands, as a
// launch.json writes them.
type sessionArgs struct {
	Mode      string          `json:"mode"`      // attach: "local" (default); launch: "core" or "dump"
	ProcessID json.RawMessage `json:"processId"` // a number, or a number in a string (${command:pickProcess})
	Backend   string          `json:"backend"`   // "native" (default), "gdb", "delve" or "dlv"
	Dlv       string          `json:"dlv"`       // HOST:PORT of a headless dlv (backend "dlv")
	Freeze    json.RawMessage `json:"freeze"`    // "always" (default), "never", true or false

	CoreFilePath string `json:"coreFilePath"`
	Program      string `json:"program"`
	DumpPath     string `json:"dumpPath"`

	// GroupThreshold: above this many goroutines, threads are groups (default
	// defaultThreshold; 0 means the default, a negative value always groups).
	GroupThreshold *int `json:"groupThreshold"`
	// GroupBy is the group key of the thread list: origin (default), start, location,
	// wait, label:KEY, parent.
	GroupBy string `json:"groupBy"`
	// System shows the runtime's own goroutines too.
	System bool `json:"system"`
}

// defaultThreshold is how many goroutines are shown one thread each; more are grouped.
const defaultThreshold = 100

// opened is a source and how to show it.
type opened struct {
	src       Source
	what      string // "pid 4242", "core core.4242", "dump goroutines.txt"
	live      bool
	threshold int
	key       snapshot.Key
	system    bool
}

// open checks a request's arguments and opens its source. Every error says what to
// write instead.
func open(command string, raw json.RawMessage, src Sources) (*opened, error) {
	var a sessionArgs
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, fmt.Errorf("%s arguments: %v", command, err)
		}
	}
	o := &opened{threshold: defaultThreshold, system: a.System}
	if a.GroupThreshold != nil {
		switch t := *a.GroupThreshold; {
		case t < 0:
			o.threshold = -1
		case t > 0:
			o.threshold = t
		}
	}
	by := a.GroupBy
	if by == "" {
		by = "origin"
	}
	key, err := snapshot.ParseKey(by)
	if err != nil {
		return nil, fmt.Errorf("groupBy: %v", err)
	}
	o.key = key

	mode := a.Mode
	if command == "attach" {
		switch mode {
		case "", "local":
		default:
			return nil, fmt.Errorf("attach mode %q: gorigin attaches to local processes only (mode \"local\"); cores and dumps are launch modes \"core\" and \"dump\"", mode)
		}
		backend, err := parseBackend(a.Backend, a.Dlv)
		if err != nil {
			return nil, err
		}
		pid := 0
		if a.Dlv == "" || len(a.ProcessID) > 0 {
			if pid, err = parsePid(a.ProcessID); err != nil {
				return nil, err
			}
		}
		freeze, err := parseFreeze(a.Freeze)
		if err != nil {
			return nil, err
		}
		if freeze == "never" && backend != "native" && backend != "gdb" {
			return nil, fmt.Errorf("freeze \"never\" reads the process without any debugger: use it with backend \"native\"")
		}
		if src.Live == nil {
			return nil, fmt.Errorf("attaching to a live process is not available in this build")
		}
		o.what, o.live = "pid "+strconv.Itoa(pid), true
		if pid == 0 {
			o.what = "the process of dlv at " + a.Dlv
		}
		o.src, err = src.Live(pid, backend, freeze)
		return o, err
	}

	switch mode {
	case "core":
		if a.CoreFilePath == "" {
			return nil, fmt.Errorf("launch mode core needs coreFilePath (the core file) and, if the program moved, program")
		}
		if src.Core == nil {
			return nil, fmt.Errorf("launch mode core: reading core files is not available in this build")
		}
		o.what = "core " + a.CoreFilePath
		o.src, err = src.Core(a.CoreFilePath, a.Program)
		return o, err
	case "dump":
		if a.DumpPath == "" {
			return nil, fmt.Errorf("launch mode dump needs dumpPath: a dump file or an http(s) URL of /debug/pprof/goroutine")
		}
		if src.Dump == nil {
			return nil, fmt.Errorf("launch mode dump: reading goroutine dumps is not available in this build")
		}
		o.what = "dump " + a.DumpPath
		o.src, err = src.Dump(a.DumpPath)
		return o, err
	case "":
		return nil, fmt.Errorf("launch needs a mode: \"core\" (with coreFilePath) or \"dump\" (with dumpPath); gorigin does not start programs, use attach with processId for a running one")
	}
	return nil, fmt.Errorf("launch mode %q: use \"core\" or \"dump\" (gorigin does not start programs: attach to a running one)", mode)
}

func parsePid(raw json.RawMessage) (int, error) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return 0, fmt.Errorf("attach needs processId: the pid of a running Go program")
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("processId %s is not a process id", raw)
	}
	return pid, nil
}

// parseBackend turns the backend and dlv arguments into Sources.Live's backend.
func parseBackend(backend, dlv string) (string, error) {
	if dlv != "" {
		if backend != "" && backend != "dlv" {
			return "", fmt.Errorf("dlv %q and backend %q: pick one (backend \"dlv\" goes with dlv)", dlv, backend)
		}
		if _, _, err := net.SplitHostPort(dlv); err != nil {
			return "", fmt.Errorf("dlv %q: give the headless dlv's address, HOST:PORT", dlv)
		}
		return "dlv=" + dlv, nil
	}
	switch backend {
	case "":
		return "native", nil
	case "native", "gdb", "delve":
		return backend, nil
	case "dlv":
		return "", fmt.Errorf("backend \"dlv\" needs dlv: the HOST:PORT of a dlv attach PID --headless --accept-multiclient --api-version=2")
	}
	return "", fmt.Errorf("backend %q: use native, gdb, delve, or dlv with \"dlv\": \"HOST:PORT\"", backend)
}

func parseFreeze(raw json.RawMessage) (string, error) {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", `"always"`, "true":
		return "always", nil
	case `"never"`, "false":
		return "never", nil
	}
	return "", fmt.Errorf("freeze %s: use \"always\" (stop the target while copying, default) or \"never\"", raw)
}
