// Package leaks proves goroutine leaks from the outside: it reads a frozen Go process's (or
// a core's) heap span tables, marks every heap object reachable from the program's roots —
// following the words the garbage collector's own pointer maps name, and every word that
// points into an allocated heap object where there are none (conservatively) — and calls
// a blocked goroutine leaked when nothing that can still run reaches the channel, mutex,
// WaitGroup or Cond it waits on.
//
// Roots are the executable's writable segments, the stacks and g structs of every
// goroutine that can run (running, runnable, in a syscall, sleeping, waiting on I/O or on
// anything the analysis does not model), the threads' stacks and registers, and finalizer
// and cleanup records. A blocked goroutine whose wait object is marked becomes a root
// itself; this repeats until nothing changes. Conservative scanning only over-estimates
// reachability, so "leaked" is a proof; "live" and "unknown" are not.
//
// Against the garbage collector's own roots (runtime/mgcmark.go, markroot):
//   - data and bss of the module: scanned (.data and .bss, but the semaphore table, whose
//     queues hold the blocked goroutines' own sudogs). Plugins and other modules are not
//     loaded by Go programs gorigin supports (no plugin support): the executable is the
//     only module.
//   - fixedRootFinalizers (allfin, finalizers queued to run): scanned, every block's
//     entries in use.
//   - fixedRootCleanups (gcCleanups.all, Go 1.25+; before that cleanups are queued as
//     finalizers): scanned likewise.
//   - fixedRootFreeGStacks: not a root of user data; the GC only frees dead goroutines'
//     stacks there.
//   - span specials: finalizers (the object and the function) and cleanups (the function
//     and its argument) are scanned. Weak handles point weakly and cannot keep a
//     channel alive; profile records and pinner bits hold no pointers to user data.
//   - goroutine stacks: scanned for every goroutine that can run (a blocked one only once
//     what it waits on is reachable), from its saved stack pointer up; the g struct too.
//     The GC also scans blocked goroutines' stacks: that is exactly what this analysis
//     must not do.
//   - threads (the GC needs none: they are stopped at safe points): their stacks from the
//     stack pointer up, and every general-purpose register of a thread running a
//     goroutine, which may hold a pointer only there. Idle threads' registers are stale,
//     and a goroutine in the runtime or a system call spilled its pointers to its stack.
//
// Not modelled as roots, because the runtime keeps user pointers there only inside
// structures already scanned: timers live in the heap (or in P structs, which are heap
// objects reached from runtime.allp in .bss); netpoll descriptors are persistent
// allocations that hold only runtime pointers (a goroutine blocked on I/O is a root).
//
// Stacks of parked goroutines and of goroutines in a system call, and idle threads'
// system stacks but for their innermost frame, are scanned precisely with the compiler's
// stack maps (amd64; stackRoots), .data and .bss with the linker's GC programs, and heap
// objects with the heap's pointer maps (heapbits.go: heapArena bitmaps on Go 1.20–1.21;
// span bits, malloc headers and mspan.largeType on Go 1.22+, the types' GC masks read from
// the executable). Conservatively: running goroutines, registers, frames without maps, and
// heap objects whose map is missing or does not make sense (a type built at run time, a
// type pointer outside the module's types, bits that cannot be read), counted in
// Stats.ConservativeBytes.
//
// Known over-estimates (a leak called live, never the reverse): the runtime packs
// pointer-free objects smaller than 16 bytes (a bare sync.Mutex) into shared 16-byte
// blocks, and a pointer to any of them marks the whole block; a register or a dead stack
// slot may hold a stale pointer; a pointer field the program no longer uses still counts,
// as it does for the garbage collector.
//
// A live target is analysed in one freeze (Begin, Session): the freeze copies what the
// marking reads — heap spans that can hold pointers (noscan spans are neither copied nor
// scanned, as the garbage collector does not scan them) and their pointer bits, stacks,
// globals, the span tables, and whatever else the analysis and the caller's snapshot read while frozen —
// and the marking runs on the copy after the thaw (image). The copy is planned and read
// once while the target runs, so the frozen read goes at memory speed. When the copy does
// not fit in the memory gorigin may use (memoryRoom) the marking runs while frozen
// (ModeFrozen), as it does for a core.
//
// The layouts of runtime.mspan, sudog, g.waiting and the rest come from gstruct (DWARF, a
// debug file, or the built-in layout of the target's Go version) and the heap's variables
// from the symbol table (of the executable or its debug file) or, without one, from the
// runtime's machine code (gstruct); without them Begin and Analyze return an error
// wrapping ErrNoDWARF. It reads memory only through dbg.Memory and
// knows nothing of how a target is stopped, symbolised or rendered.
package leaks
