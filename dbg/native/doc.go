// Package native is gorigin's own backend for a live Linux process: it freezes every
// thread with PTRACE_SEIZE and PTRACE_INTERRUPT, reads memory in large batches with
// process_vm_readv, and detaches on every path so the target always runs on.
//
// It is read-only by construction (no PEEK/POKE writes, no SETREGS) and knows nothing
// about the Go runtime; that is package gstruct's job. Core files are read elsewhere.
package native
