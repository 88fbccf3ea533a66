package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorigin-dev/gorigin/dap"
	"github.com/gorigin-dev/gorigin/internal/source"
	"github.com/gorigin-dev/gorigin/snapshot"
)

var cmdDAP = &command{
	name: "dap", args: "[--listen 127.0.0.1:PORT|unix:PATH [--allow-remote]]", summary: "serve the Debug Adapter Protocol for IDEs (stdin/stdout, TCP or a Unix socket)",
	examples: [][2]string{
		{"on stdin/stdout, as an IDE starts it", "gorigin dap"},
		{"on a local port, for an IDE's debugServer setting (serves only you, the user who ran sudo)", "sudo gorigin dap --listen 127.0.0.1:4711"},
		{"on a Unix socket of mode 0600, owned by the user who ran sudo", "sudo gorigin dap --listen unix:$XDG_RUNTIME_DIR/gorigin-dap.sock"},
	},
	flags: func(f *flags) {
		f.fs.StringVar(&f.listen, "listen", "", "serve DAP on this TCP `address` (e.g. 127.0.0.1:4711) or Unix socket (unix:/path, mode 0600) instead of stdin/stdout")
		f.fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow --listen on a non-loopback address (whoever connects from another host can read the memory of any process gorigin may ptrace)")
		f.fs.IntVar(&f.maxConns, "max-connections", dap.DefaultMaxConns, "serve at most `n` sessions at once; more are refused")
		f.fs.DurationVar(&f.idle, "idle-timeout", 30*time.Minute, "drop a connection that sends no complete message for this `long` (0: never)")
		f.fs.DurationVar(&f.attachWait, "attach-wait", time.Minute, "how `long` an attach waits for another session's attach to the same pid to finish")
		f.group(sourceFlags, "listen", "allow-remote")
	},
	run: runDAP,
}

// runDAP is "gorigin dap [--listen ADDR|unix:PATH [flags]]": a Debug Adapter Protocol
// server on stdin/stdout, or on a socket for an IDE's debugServer setting. A socket
// serves only the user who started gorigin and, under sudo, the user who ran sudo.
func runDAP(f *flags, args []string, std stdio3) error {
	stdin, stdout, stderr := std.in, std.out, std.err
	listen, remote, maxConns, idle, attachWait := &f.listen, &f.allowRemote, &f.maxConns, &f.idle, &f.attachWait
	if len(args) != 0 {
		return usageError{msg: "dap takes no arguments: gorigin dap [--listen 127.0.0.1:PORT|unix:PATH]; the IDE names the process in its attach request"}
	}
	if *maxConns < 1 || *idle < 0 || *attachWait <= 0 {
		return usageError{msg: "--max-connections must be at least 1, --idle-timeout 0 or more, --attach-wait more than 0"}
	}
	turns := &pidTurns{within: *attachWait}
	if *listen == "" {
		if *remote {
			return usageError{msg: "--allow-remote applies only with --listen"}
		}
		return dap.Serve(context.Background(), stdio{stdin, stdout}, dapSources(nil, turns))
	}
	allowed, err := dapUsers()
	if err != nil {
		return err
	}
	ln, loopback, err := dapListen(*listen, *remote)
	if err != nil {
		return err
	}
	defer ln.Close()
	if !loopback {
		fmt.Fprintf(stderr, "gorigin dap: WARNING: serving on non-loopback %s: whoever connects from another host can read any memory of every process this user may ptrace (clients on this host are checked: uid %s only)\n", ln.Addr(), uids(allowed))
	}
	fmt.Fprintf(stderr, "gorigin dap: listening on %s for uid %s\n", ln.Addr(), uids(allowed))
	l := &dap.Listener{
		Allowed:  allowed,
		Remote:   *remote,
		MaxConns: *maxConns,
		Idle:     *idle,
		Log:      stderr,
		Sources:  func(p dap.Peer) dap.Sources { return dapSources(&p, turns) },
	}
	return l.Serve(context.Background(), ln)
}

// dapUsers are the uids a socket serves: gorigin's own, and under sudo (SUDO_UID) the
// user who ran sudo, whose IDE connects.
func dapUsers() ([]int, error) {
	users := []int{os.Getuid()}
	if s := os.Getenv("SUDO_UID"); s != "" {
		uid, err := strconv.Atoi(s)
		if err != nil || uid < 0 {
			return nil, usageError{msg: fmt.Sprintf("SUDO_UID=%q is not a uid: unset it or fix it", s)}
		}
		if uid != users[0] {
			users = append(users, uid)
		}
	}
	return users, nil
}

// dapListen opens the listening socket --listen names: TCP (loopback unless remote), or
// a Unix socket of mode 0600, owned by the user who ran sudo when there is one.
func dapListen(addr string, remote bool) (ln net.Listener, loopback bool, err error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if remote {
			return nil, false, usageError{msg: "--allow-remote applies to TCP addresses, not to a Unix socket"}
		}
		ln, err := listenUnix(path)
		return ln, true, err
	}
	loopback, err = isLoopback(addr)
	if err != nil {
		return nil, false, usageError{msg: fmt.Sprintf("--listen %s: %v (use 127.0.0.1:PORT or unix:/path)", addr, err), err: err}
	}
	if !loopback && !remote {
		return nil, false, usageError{msg: fmt.Sprintf("--listen %s is not a loopback address: anyone who reaches it could read the memory of your processes; use 127.0.0.1:PORT, or add --allow-remote if you mean it", addr)}
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		return nil, false, usageError{msg: fmt.Sprintf("--listen %s: %v", addr, err), err: err}
	}
	return ln, loopback, nil
}

// listenUnix listens on a Unix socket at path with mode 0600 from the start (umask),
// replacing a stale socket nobody listens on, and hands it to the user who ran sudo.
func listenUnix(path string) (net.Listener, error) {
	if path == "" {
		return nil, usageError{msg: "--listen unix: needs a path: unix:/run/user/1000/gorigin-dap.sock"}
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, usageError{msg: fmt.Sprintf("--listen unix:%s: the path exists and is not a socket; name a new path", path)}
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, usageError{msg: fmt.Sprintf("--listen unix:%s: another server listens there", path)}
		}
		os.Remove(path) // a stale socket of a server that was killed
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, usageError{msg: fmt.Sprintf("--listen unix:%s: %v", path, err), err: err}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("--listen unix:%s: %w", path, err)
	}
	if uid, gid, ok := sudoUser(); ok && os.Geteuid() == 0 {
		if err := os.Lchown(path, uid, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("--listen unix:%s: give the socket to the user who ran sudo: %w", path, err)
		}
	}
	return ln, nil
}

// sudoUser is the user who ran sudo (SUDO_UID, SUDO_GID).
func sudoUser() (uid, gid int, ok bool) {
	u, uerr := strconv.Atoi(os.Getenv("SUDO_UID"))
	g, gerr := strconv.Atoi(os.Getenv("SUDO_GID"))
	if uerr != nil || u < 0 {
		return 0, 0, false
	}
	if gerr != nil || g < 0 {
		g = -1 // keep the group
	}
	return u, g, true
}

// uids is "0 and 1000".
func uids(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " and ")
}

// stdio is the DAP connection on standard input and output.
type stdio struct {
	io.Reader
	io.Writer
}

// isLoopback says whether every address host:port names is a loopback address.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, err
	}
	if host == "" {
		return false, nil // every interface
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback(), nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false, err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false, nil
		}
	}
	return len(ips) > 0, nil
}

// dapSources are the snapshot sources this build has, for the DAP server. Live and core
// snapshots copy every goroutine's stack: the IDE shows them. peer is the client of a
// socket (nil on stdin/stdout): the files it names must be readable by its user. Attaches
// to one pid take turns.
func dapSources(peer *dap.Peer, turns *pidTurns) dap.Sources {
	mayRead := func(what, path string) (string, error) {
		if peer == nil {
			return path, nil
		}
		real, err := peer.MayRead(path)
		if err != nil {
			return "", usageError{msg: fmt.Sprintf("%s: %v", what, err), err: err}
		}
		return real, nil
	}
	return dap.Sources{
		Live: func(pid int, backend, freeze string) (dap.Source, error) {
			return func(ctx context.Context) (*snapshot.Snapshot, error) {
				if err := ctx.Err(); err != nil {
					return nil, err // the client went away before gorigin attached
				}
				release, err := turns.wait(ctx, pid)
				if err != nil {
					return nil, err
				}
				defer release()
				o := sourceOptions()
				o.Backend, o.Freeze, o.Stacks = backend, snapshot.FreezeMode(freeze), true
				return source.Attach(ctx, pid, o)
			}, nil
		},
		Core: func(corePath, exe string) (dap.Source, error) {
			if _, err := os.Stat(corePath); err != nil {
				return nil, fmt.Errorf("coreFilePath: %w", err)
			}
			check := func() (string, string, error) {
				core, err := mayRead("coreFilePath", corePath)
				if err != nil || exe == "" {
					return core, exe, err
				}
				prog, err := mayRead("program", exe)
				return core, prog, err
			}
			if _, _, err := check(); err != nil {
				return nil, err
			}
			return func(ctx context.Context) (*snapshot.Snapshot, error) {
				core, prog, err := check() // again: the file may have changed since
				if err != nil {
					return nil, err
				}
				o := sourceOptions()
				o.Stacks = true
				return source.Core(ctx, core, prog, o)
			}, nil
		},
		Dump: func(src string) (dap.Source, error) {
			if src == "-" {
				return nil, usageError{msg: "dumpPath -: standard input carries the DAP messages; name a file or a URL"}
			}
			check := func() (string, error) {
				if source.IsURL(src) {
					return src, nil
				}
				return mayRead("dumpPath", src)
			}
			if _, err := check(); err != nil {
				return nil, err
			}
			return func(ctx context.Context) (*snapshot.Snapshot, error) {
				path, err := check()
				if err != nil {
					return nil, err
				}
				return source.Dump(ctx, path, nil)
			}, nil
		},
	}
}
