// Package gdbmi drives GDB through its machine interface (GDB/MI, version 3) and offers a
// live Linux process as a dbg.Target: GDB attaches in non-stop mode, reads memory with
// -data-read-memory-bytes, stops every thread for the freeze and detaches afterwards.
//
// It has two layers: an MI client (parse.go: the output grammar; client.go: a GDB child
// process, commands matched to their results by token, timeouts, a dead GDB failing every
// pending call) and the target (process.go). It is read-only: it sends no command that
// writes memory or registers or calls a function in the target. Knowledge of the Go
// runtime lives in package gstruct, not here.
package gdbmi
