// Package gdbmi drives GDB through its machine interface (GDB/MI, version 3) and offers a
// live Linux process or a core dump as a dbg.Target. For a process, GDB attaches in
// non-stop mode, reads memory with -data-read-memory-bytes, stops every thread for the
// freeze and detaches afterwards; for a core, GDB opens it with its executable and reads
// the same way.
//
// It is the targets (process.go, core.go, sharing memory.go) on top of the MI protocol
// client in internal/mi. It is read-only: it sends no command that writes memory or registers or
// calls a function in the target. Knowledge of the Go runtime lives in package gstruct,
// not here.
package gdbmi
