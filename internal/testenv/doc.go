// Package testenv is what gorigin's tests share, in the manner of the standard
// library's internal/testenv: the Go toolchains that target programs are built with, one
// builder that builds a program once per toolchain and flags for the tests of every
// package (the go command decides what is stale; the binaries live in one cache
// directory, so the integration, reliability and benchmark tests of one run, and the runs
// after it, share them), and readers of /proc that say whether a process is stopped or
// traced.
//
// It is imported only by tests.
package testenv
