package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/gorigin-dev/gorigin/dap"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// runDAP is "gorigin dap [--listen ADDR [--allow-remote]]": a Debug Adapter Protocol
// server on stdin/stdout, or on TCP for an IDE's debugServer setting.
func runDAP(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gorigin dap", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // exitStatus prints the error, once
	fs.Usage = onHelp(stderr, fs)
	listen := fs.String("listen", "", "serve DAP on this TCP `address` (e.g. 127.0.0.1:4711) instead of stdin/stdout")
	remote := fs.Bool("allow-remote", false, "allow --listen on a non-loopback address (whoever connects can read the memory of any process gorigin may ptrace)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return flagError(fs, err)
	}
	if fs.NArg() != 0 {
		return usageError{"dap takes no arguments: gorigin dap [--listen 127.0.0.1:PORT [--allow-remote]]; the IDE names the process in its attach request"}
	}
	if *listen == "" {
		if *remote {
			return usageError{"--allow-remote applies only with --listen"}
		}
		err := dap.Serve(context.Background(), stdio{stdin, stdout}, dapSources())
		if errors.Is(err, dap.ErrMalformed) {
			return usageError{err.Error()}
		}
		return err
	}
	loopback, err := isLoopback(*listen)
	if err != nil {
		return usageError{fmt.Sprintf("--listen %s: %v", *listen, err)}
	}
	if !loopback && !*remote {
		return usageError{fmt.Sprintf("--listen %s is not a loopback address: anyone who reaches it could read the memory of your processes; use 127.0.0.1:PORT, or add --allow-remote if you mean it", *listen)}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return usageError{fmt.Sprintf("--listen %s: %v", *listen, err)}
	}
	defer ln.Close()
	if !loopback {
		fmt.Fprintf(stderr, "gorigin dap: WARNING: serving on non-loopback %s: whoever connects can read any memory of every process this user may ptrace\n", ln.Addr())
	}
	fmt.Fprintf(stderr, "gorigin dap: listening on %s\n", ln.Addr())
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return fmt.Errorf("dap: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			if err := dap.Serve(context.Background(), conn, dapSources()); err != nil {
				fmt.Fprintf(stderr, "gorigin dap: %s: %v\n", conn.RemoteAddr(), err)
			}
		}()
	}
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
// snapshots copy every goroutine's stack: the IDE shows them.
func dapSources() dap.Sources {
	return dap.Sources{
		Live: func(pid int, backend, freeze string) (dap.Source, error) {
			return func(ctx context.Context) (*snapshot.Snapshot, error) {
				if err := ctx.Err(); err != nil {
					return nil, err // the client went away before gorigin attached
				}
				f := newFlags(io.Discard)
				f.backend, f.freeze, f.stacks = backend, freeze, true
				return attach(pid, f)
			}, nil
		},
		Core: func(corePath, exe string) (dap.Source, error) {
			if _, err := os.Stat(corePath); err != nil {
				return nil, fmt.Errorf("coreFilePath: %w", err)
			}
			return func(context.Context) (*snapshot.Snapshot, error) {
				f := newFlags(io.Discard)
				f.stacks = true
				return openCore(corePath, exe, f)
			}, nil
		},
		Dump: func(src string) (dap.Source, error) {
			if src == "-" {
				return nil, usageError{"dumpPath -: standard input carries the DAP messages; name a file or a URL"}
			}
			return func(context.Context) (*snapshot.Snapshot, error) {
				return loadSource(src, nil)
			}, nil
		},
	}
}
