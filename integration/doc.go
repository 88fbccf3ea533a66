// Package integration holds gorigin's end-to-end tests: a target program
// (testdata/fixture) built with several Go toolchains and build modes, attached with the
// gorigin command, and compared with the runtime's own goroutine dump (package oracle)
// and with the fixture's source, go statement by go statement.
//
// It has no code outside the tests. The harness (harness_test.go: starting a fixture,
// running gorigin, reading the runtime's own dump) is reused by the core-dump, Delve, GDB
// and DAP tests; building the fixtures and reading /proc are internal/testenv's, shared
// with every other test package.
//
// Running:
//
//	go test ./integration                      # a covering subset of the build matrix
//	go test ./integration -gorigin.full        # all 40 variants (or GORIGIN_FULL=1)
//	GORIGIN_TOOLCHAINS=go1.20.14,go1.26.8 go test ./integration
//
// Attaching needs ptrace (root or CAP_SYS_PTRACE); those tests skip, saying so, without
// it. testenv builds each fixture variant once for all the test packages of a run and
// keeps it for later runs. .ci/run downloads the toolchains.
package integration
