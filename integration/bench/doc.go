// Package bench holds gorigin's attach benchmark: it attaches to a target with many
// goroutines (integration/testdata/bigtarget) and compares gorigin with peers on the same
// target in the same run — the pprof debug=2 dump, and gdb and dlv when installed.
//
// The numbers that matter are reported as benchmark metrics, the freeze measured by the
// target itself; ns/op is suppressed. It has no code outside its tests; see
// integration/BENCHMARKS.md for how to run it and what the metrics mean.
package bench
