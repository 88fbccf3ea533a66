// Package dumpbench compares gorigin's text dump parser (github.com/gorigin-dev/gorigin/dump)
// with github.com/DataDog/gostackparse and github.com/maruel/panicparse/v2 on the same
// debug=2 goroutine dump, in the same run: throughput (MB/s, ns per goroutine), bytes and
// allocations per parse, and the heap the parsed result keeps.
//
// It is a module of its own so that the peers are dependencies of the benchmark only, never
// of gorigin; `go test ./...` at the repository root does not build it. The dump is real: the
// test binary parks -goroutines goroutines (with pprof labels, from several go statements,
// some created by a spawner goroutine), writes its own debug=2 profile with
// GODEBUG=tracebacklabels=1 and lets them go. See integration/BENCHMARKS.md for the command
// and the results.
package dumpbench
