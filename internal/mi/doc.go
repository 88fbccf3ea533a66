// Package mi is a client of GDB's machine interface (GDB/MI, version 3): the output
// grammar (parse.go, bounded by depth and value count: GDB's output is hostile input as
// much as a core is) and a GDB child process (client.go: commands matched to their results
// by token, timeouts, a dead or silent GDB failing every pending and later call). It knows
// nothing about Go or about targets; dbg/gdbmi builds the targets on it.
package mi
