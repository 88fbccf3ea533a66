// Package goversion is gorigin's one reading of the Go release that built a program, as
// the build info, a core or runtime.Version() give it ("go1.26.8"). The runtime knowledge
// gorigin keeps per release (layouts, the wrapper function id, the moduledata layout,
// label printing) is in tables keyed by the Version it returns.
//
// It parses with the standard library's go/version and depends on nothing else, so that
// package agent, which imports it, builds everywhere with the standard library alone.
package goversion

import (
	"go/version"
	"strconv"
	"strings"
)

// Version is a Go 1 release line: the N of go1.N (go1.26.8 and go1.26rc1 are both 26).
// The zero Version is unknown; every caller says what an unknown release means to it.
type Version int

// Parse reads the release line of a Go version string as the toolchain writes it:
// "go1.26.8", "go1.27rc1", "go1.26.8 X:nocoverageredesign", "go1.27-bigcorp", or a
// development build's "devel go1.27-2f3c… Tue Dec 1 …". It returns 0 for anything else
// (including "", "devel +abc" without a release, and Go 2).
func Parse(s string) Version {
	s = strings.TrimPrefix(s, "devel ")
	s, _, _ = strings.Cut(s, " ")
	minor, ok := strings.CutPrefix(version.Lang(s), "go1.")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(minor)
	if err != nil || n <= 0 {
		return 0
	}
	return Version(n)
}

// Known reports whether v is a release line, not the zero Version.
func (v Version) Known() bool { return v > 0 }

// String is the release line as Go writes it, "go1.26", or "unknown".
func (v Version) String() string {
	if !v.Known() {
		return "unknown"
	}
	return "go1." + strconv.Itoa(int(v))
}
