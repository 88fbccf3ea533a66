// Package reliability is gorigin's reliability and security suite: evidence that gorigin
// never breaks the process it inspects and fails clearly on bad input. A small HTTP
// service (testdata/service) serves a bounded load while gorigin attaches to it with every
// backend, is killed mid-attach, exits or execs under it; a table feeds gorigin every
// kind of bad target and bad file; and the security tests check that gorigin dap listens
// on loopback only, that an attach leaves the target's memory and registers as they were,
// and that GDB never runs with a widened auto-load safe-path. Delve and GDB themselves are
// put through the same kill experiment, for comparison; their behaviour is logged, not
// judged.
//
// It has no code outside the tests, and it is not the place for benchmarks
// (integration/bench) or for the comparison with the runtime's dump (integration).
//
// Running:
//
//	go test ./integration/reliability                          # the short version: ~10 attaches per backend
//	GORIGIN_RELIABILITY=full go test -timeout 60m ./integration/reliability -v   # 200 attaches, 100 kills per backend
//	integration/reliability/fuzz.sh 5                          # every fuzz target for 5 minutes each
//
// Attaching needs ptrace (root or CAP_SYS_PTRACE); tests skip, saying so, without it.
package reliability
