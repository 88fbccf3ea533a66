package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/dump"
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
		f.fs.DurationVar(&f.timeout, "timeout", fetchTimeout, "give up on an http(s) source that has not answered after this long")
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
	var snap *snapshot.Snapshot
	var err error
	if isURL(pos[0]) {
		snap, err = fetch(pos[0], f.timeout, f.followRedirects)
	} else {
		snap, err = loadSource(pos[0], std.in)
	}
	if err != nil {
		return err
	}
	return render(snap, f, std.out)
}

// loadSource reads a dump source: "-" (stdin), an http(s) URL of a goroutine profile
// endpoint, or a file.
func loadSource(src string, stdin io.Reader) (*snapshot.Snapshot, error) {
	var (
		snap *snapshot.Snapshot
		err  error
	)
	switch {
	case src == "-":
		snap, err = dump.Parse(stdin, dump.Options{TakenAt: time.Now().UTC()})
	case isURL(src):
		return fetch(src, fetchTimeout, false)
	default:
		fh, oerr := os.Open(src)
		if oerr != nil {
			return nil, usageError{msg: fmt.Sprintf("dump %s: %v", src, oerr), err: oerr}
		}
		defer fh.Close()
		opt := dump.Options{File: src}
		if st, serr := fh.Stat(); serr == nil {
			if st.IsDir() {
				return nil, usageError{msg: fmt.Sprintf("dump %s: a directory, want a dump file", src)}
			}
			opt.TakenAt = st.ModTime().UTC()
		}
		snap, err = dump.Parse(fh, opt)
	}
	if err != nil {
		return nil, badDump(src, err)
	}
	return snap, nil
}

// badDump makes a parse error a bad-input error (exit status 2).
func badDump(src string, err error) error {
	if src == "-" {
		src = "standard input"
	}
	return usageError{msg: fmt.Sprintf("dump %s: %v", src, err), err: err}
}

// fetchTimeout bounds one request to a profile endpoint (dump --timeout).
const fetchTimeout = 60 * time.Second

func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}

// fetch reads a goroutine profile endpoint: debug=2 (every goroutine with its id, state
// and creator) and, if the server refuses it, debug=1 and then debug=0.
//
// Redirects are followed only to the same host unless followRedirects: gorigin runs as
// root, and a server on the loopback interface (anyone's) must not make it connect to
// other hosts unasked.
func fetch(raw string, timeout time.Duration, followRedirects bool) (*snapshot.Snapshot, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, usageError{msg: fmt.Sprintf("dump %s: %v", raw, err), err: err}
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/debug/pprof/goroutine"
	}
	client := &http.Client{Timeout: timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if !followRedirects && !strings.EqualFold(req.URL.Hostname(), u.Hostname()) {
			return redirectError{fmt.Sprintf("the server redirects to %s, another host: gorigin follows redirects to the same host only; "+
				"pass --follow-redirects to follow it, or dump that URL", req.URL.Redacted())}
		}
		return nil
	}}
	var errs []string
	for _, level := range []string{"2", "1", "0"} {
		q := u.Query()
		q.Set("debug", level)
		u.RawQuery = q.Encode()
		snap, err := fetchOne(client, u.String(), timeout)
		if err == nil {
			if level != "2" {
				snap.Warnings = append(snap.Warnings, fmt.Sprintf("the server refused debug=2 (%s); this is its debug=%s profile", strings.Join(errs, "; "), level))
			}
			return snap, nil
		}
		var refused refusedError
		if !errors.As(err, &refused) {
			return nil, err
		}
		errs = append(errs, "debug="+level+": "+err.Error())
	}
	return nil, usageError{msg: fmt.Sprintf("dump %s: the server answered no goroutine profile: %s", raw, strings.Join(errs, "; "))}
}

// redirectError is a redirect fetch did not follow.
type redirectError struct{ msg string }

func (e redirectError) Error() string { return e.msg }

// refusedError is an HTTP answer that is not a profile: try another debug level.
type refusedError struct{ msg string }

func (e refusedError) Error() string { return e.msg }

func fetchOne(client *http.Client, u string, timeout time.Duration) (*snapshot.Snapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, usageError{msg: fmt.Sprintf("dump %s: %v", u, err), err: err}
	}
	resp, err := client.Do(req)
	var redirect redirectError
	if errors.As(err, &redirect) {
		return nil, usageError{msg: fmt.Sprintf("dump %s: %s", u, redirect.msg)}
	}
	if err != nil && ctx.Err() != nil {
		return nil, usageError{msg: fmt.Sprintf("dump %s: no answer within %v: the server hangs or is too slow (raise --timeout)", u, timeout)}
	}
	if err != nil {
		return nil, usageError{msg: fmt.Sprintf("dump %s: %v (is the server up, and does it import net/http/pprof?)", u, err), err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, refusedError{resp.Status}
	}
	snap, err := dump.Parse(resp.Body, dump.Options{TakenAt: time.Now().UTC()})
	if err != nil && ctx.Err() != nil {
		return nil, usageError{msg: fmt.Sprintf("dump %s: the answer did not end within %v: the server hangs or is too slow (raise --timeout)", u, timeout)}
	}
	if err != nil {
		if errors.Is(err, dump.ErrNoDump) {
			return nil, refusedError{"not a goroutine profile: " + err.Error()}
		}
		return nil, badDump(u, err)
	}
	snap.Source.File = u
	return snap, nil
}
