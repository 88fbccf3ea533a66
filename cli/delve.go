package cli

// The Delve backends' flags and notes. The backends themselves are in delve_backend.go;
// a build with -tags nodelve leaves Delve out (delve_none.go).

import (
	"debug/buildinfo"
	"fmt"
	"strconv"
	"strings"

	"github.com/gorigin-dev/gorigin/capture"
	"github.com/gorigin-dev/gorigin/snapshot"
)

// The Go releases Delve v1.27.2 itself supports (pkg/goversion). dlv core and dlv exec
// refuse others unless started with --check-go-version=false; dlv attach does not check.
const delveMinGo, delveMaxGo = 25, 27

// checkBackend validates --backend and --dlv: native, gdb, delve, or dlv=HOST:PORT
// (--dlv HOST:PORT is the same).
func checkBackend(f *flags) error {
	if f.dlv != "" {
		if f.backend != "native" && f.backend != "dlv="+f.dlv {
			return usageError{fmt.Sprintf("--dlv %s and --backend %s: pick one", f.dlv, f.backend)}
		}
		f.backend = "dlv=" + f.dlv
	}
	switch {
	case f.backend == "native", f.backend == "gdb", f.backend == "delve":
	case strings.HasPrefix(f.backend, "dlv="):
		if !strings.Contains(strings.TrimPrefix(f.backend, "dlv="), ":") {
			return usageError{fmt.Sprintf("--backend %s: give the headless dlv's address, dlv=HOST:PORT", f.backend)}
		}
	default:
		return usageError{fmt.Sprintf("--backend %q: use native, gdb, delve or dlv=HOST:PORT", f.backend)}
	}
	if (f.backend == "delve" || dlvAddr(f) != "") && f.freeze == capture.FreezeNever {
		return usageError{"--freeze never reads the process without any debugger: use it with --backend native"}
	}
	return nil
}

// dlvAddr is the headless dlv's address for --backend dlv=HOST:PORT, or "".
func dlvAddr(f *flags) string {
	addr, _ := strings.CutPrefix(f.backend, "dlv=")
	if addr == f.backend {
		return ""
	}
	return addr
}

// delveVersionNote warns when the target's Go release is one Delve itself does not support:
// gorigin used Delve only to stop the process and read memory, so the snapshot stands.
func delveVersionNote(snap *snapshot.Snapshot) {
	if !delveSupports(snap.Source.GoVersion) {
		snap.Warnings = append(snap.Warnings, fmt.Sprintf(
			"Delve v1.27.2 supports Go 1.%d to 1.%d and the target is %s: gorigin used Delve only to stop the process and read its memory, and decoded the runtime itself (--backend native does without Delve)",
			delveMinGo, delveMaxGo, snap.Source.GoVersion))
	}
}

// delveSupports says whether Delve v1.27.2 supports a Go release ("go1.26.8"); an
// unknown one counts as supported.
func delveSupports(goVersion string) bool {
	v := strings.TrimPrefix(goVersion, "go")
	major, rest, _ := strings.Cut(v, ".")
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++ // "27.3", "28rc1"
	}
	minor, err := strconv.Atoi(rest[:n])
	return major != "1" || err != nil || (minor >= delveMinGo && minor <= delveMaxGo)
}

// delveFailed adds to an error of Delve's on the executable exe, when exe was built by a
// Go release Delve does not support, that this may be why and what to use instead.
func delveFailed(err error, exe string) error {
	info, berr := buildinfo.ReadFile(exe)
	if berr != nil {
		return err
	}
	return delveHint(err, info.GoVersion)
}

// delveHint is delveFailed for a target built by goVersion.
func delveHint(err error, goVersion string) error {
	if delveSupports(goVersion) {
		return err
	}
	return fmt.Errorf("%w (Delve v1.27.2 supports Go 1.%d to 1.%d and the target was built by %s: use --backend native, which supports Go 1.20 to 1.27)",
		err, delveMinGo, delveMaxGo, goVersion)
}
