package cli

import (
	"context"

	"github.com/gorigin-dev/gorigin/internal/source"
	"github.com/gorigin-dev/gorigin/snapshot"
)

var cmdDump = &command{
	name: "dump", args: "FILE|URL|- [flags]", summary: "read a goroutine dump: a debug=2/1/0 profile (file or URL), a panic or SIGQUIT traceback, a saved JSON snapshot",
	examples: [][2]string{
		{"a server's /debug/pprof/goroutine endpoint", "gorigin dump http://localhost:6060"},
		{"a crash log on standard input", "gorigin dump - < panic.log"},
		{"a snapshot saved with --format json, grouped by wait reason", "gorigin dump before.json --by wait"},
	},
	flags: func(f *flags) {
		f.stacks = true // a dump holds every goroutine's frames: --by location needs no --stacks
		f.snapshotFlags()
		f.refuse("reading a live process is attach's: a dump is a copy already, with nothing to freeze and no debugger (gorigin attach PID takes it)",
			"freeze", "max-freeze", "backend", "dlv", "debug-file")
		f.fs.DurationVar(&f.timeout, "timeout", source.FetchTimeout, "give up on an http(s) source that has not answered after this long")
		f.fs.BoolVar(&f.followRedirects, "follow-redirects", false, "follow an http(s) source's redirects to other hosts (by default only to the same host)")
		f.group(sourceFlags, "timeout")
	},
	run:      runDump,
	operands: files,
}

// runDump is "gorigin dump FILE|URL|-": a text dump, a pprof goroutine profile or a saved
// JSON snapshot, rendered like attach renders a live process.
func runDump(f *flags, pos []string, std stdio3) error {
	if len(pos) != 1 {
		return usageError{msg: "dump takes one source: gorigin dump FILE|URL|- (- reads standard input)"}
	}
	if f.timeout <= 0 {
		return usageError{msg: "--timeout must be positive"}
	}
	if byObject(f) {
		return noObjects("a goroutine dump does not carry them")
	}
	var snap *snapshot.Snapshot
	var err error
	if source.IsURL(pos[0]) {
		snap, err = source.Fetch(context.Background(), pos[0], f.timeout, f.followRedirects)
	} else {
		snap, err = source.Dump(context.Background(), pos[0], std.in)
	}
	if err != nil {
		return err
	}
	return render(snap, f, std.out)
}
