// Package leaks proves goroutine leaks from the outside: it reads a frozen Go process's (or
// a core's) heap span tables, marks every heap object reachable from the program's roots by
// scanning memory conservatively (every word that points into an allocated heap object
// counts as a pointer), and calls a blocked goroutine leaked when nothing that can still
// run reaches the channel, mutex, WaitGroup or Cond it waits on.
//
// Roots are the executable's writable segments, the stacks and g structs of every
// goroutine that can run (running, runnable, in a syscall, sleeping, waiting on I/O or on
// anything the analysis does not model), the threads' stacks, and finalizer and cleanup
// records. A blocked goroutine whose wait object is marked becomes a root itself; this
// repeats until nothing changes. Conservative scanning only over-estimates reachability,
// so "leaked" is a proof; "live" and "unknown" are not.
//
// It needs the executable's DWARF (for the layouts of runtime.mspan, sudog and g.waiting);
// for a stripped executable Analyze returns ErrNoDWARF. It reads memory only through
// dbg.Memory and knows nothing of how a target is stopped, symbolised or rendered.
package leaks
