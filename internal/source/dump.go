package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/gorigin-dev/gorigin/dump"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// Dump reads a goroutine dump or a saved JSON snapshot: "-" (stdin), an http(s) URL of a
// goroutine profile endpoint (fetched as Fetch does, with FetchTimeout), or a file.
func Dump(ctx context.Context, src string, stdin io.Reader) (*snapshot.Snapshot, error) {
	var (
		snap *snapshot.Snapshot
		err  error
	)
	switch {
	case src == "-":
		snap, err = dump.Parse(stdin, dump.Options{TakenAt: time.Now().UTC()})
	case IsURL(src):
		return Fetch(ctx, src, FetchTimeout, false)
	default:
		fh, oerr := os.Open(src)
		if oerr != nil {
			if errors.Is(oerr, fs.ErrNotExist) && hostPortRE.MatchString(src) {
				return nil, badInput(oerr, "dump %s: no such file; for a goroutine profile endpoint give its URL: http://%s", src, withProfilePath(src))
			}
			return nil, badInput(oerr, "dump %s: %v", src, oerr)
		}
		defer fh.Close()
		opt := dump.Options{File: src}
		if st, serr := fh.Stat(); serr == nil {
			if st.IsDir() {
				return nil, badInput(nil, "dump %s: a directory, want a dump file", src)
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
	return badInput(err, "dump %s: %v", src, err)
}

// FetchTimeout is the usual bound of one request to a profile endpoint (dump --timeout).
const FetchTimeout = 60 * time.Second

// IsURL says whether src names a profile endpoint rather than a file.
func IsURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}

// Fetch reads a goroutine profile endpoint: debug=2 (every goroutine with its id, state
// and creator) and, if the server refuses it, debug=1 and then debug=0.
//
// Redirects are followed only to the same host unless followRedirects: gorigin runs as
// root, and a server on the loopback interface (anyone's) must not make it connect to
// other hosts unasked.
// Each request gives up after timeout, and all of them when ctx ends.
func Fetch(ctx context.Context, raw string, timeout time.Duration, followRedirects bool) (*snapshot.Snapshot, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, badInput(err, "dump %s: %v", raw, err)
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
		snap, err := fetchOne(ctx, client, u.String(), timeout)
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
	return nil, badInput(nil, "dump %s: the server answered no goroutine profile: %s", raw, strings.Join(errs, "; "))
}

// redirectError is a redirect fetch did not follow.
type redirectError struct{ msg string }

func (e redirectError) Error() string { return e.msg }

// refusedError is an HTTP answer that is not a profile: try another debug level.
type refusedError struct{ msg string }

func (e refusedError) Error() string { return e.msg }

func fetchOne(parent context.Context, client *http.Client, u string, timeout time.Duration) (*snapshot.Snapshot, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, badInput(err, "dump %s: %v", u, err)
	}
	resp, err := client.Do(req)
	var redirect redirectError
	if errors.As(err, &redirect) {
		return nil, badInput(err, "dump %s: %s", u, redirect.msg)
	}
	if err != nil && parent.Err() != nil {
		return nil, parent.Err() // the caller gave up: nothing to say about the server
	}
	if err != nil && ctx.Err() != nil {
		return nil, badInput(err, "dump %s: no answer within %v: the server hangs or is too slow (raise --timeout)", u, timeout)
	}
	if err != nil {
		return nil, badInput(err, "dump %s: %v (is the server up, and does it import net/http/pprof?)", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, refusedError{resp.Status}
	}
	snap, err := dump.Parse(resp.Body, dump.Options{TakenAt: time.Now().UTC()})
	if err != nil && parent.Err() != nil {
		return nil, parent.Err()
	}
	if err != nil && ctx.Err() != nil {
		return nil, badInput(err, "dump %s: the answer did not end within %v: the server hangs or is too slow (raise --timeout)", u, timeout)
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

// hostPortRE matches what looks like an address without its scheme: "localhost:8087",
// "10.0.0.5:6060/debug/pprof/goroutine".
var hostPortRE = regexp.MustCompile(`^[A-Za-z0-9.-]+:[0-9]{1,5}(/.*)?$`)

// withProfilePath adds the goroutine profile's usual path to an address that has none.
func withProfilePath(hostPort string) string {
	if strings.Contains(hostPort, "/") {
		return hostPort
	}
	return hostPort + "/debug/pprof/goroutine"
}
