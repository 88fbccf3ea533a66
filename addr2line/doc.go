// Package addr2line turns program counters of a Go executable into function,
// file and line, expanding inlined calls, using only the pclntab and the
// moduledata, so it works on stripped binaries (no DWARF, no .symtab) built by
// Go 1.20 and later. It is not a general symbolizer: it knows nothing of C
// code, DWARF or shared libraries, and it deals only in link-time addresses
// (a caller reading a PIE process subtracts the load bias first).
//
// Lookup(pc) treats pc as the address of an instruction (a "call PC") and
// returns the frames there as the runtime's inline unwinder sees them,
// innermost first; the last frame is the physical function. This is what
// the runtime prints for a goroutine's creator: for a go statement whose
// return address is gopc, the line "created by F" names the physical function
// containing gopc, and the line below it is the file:line of gopc-1 from that
// function's pcfile/pcln tables, which is the innermost (possibly inlined)
// position. So Lookup(gopc-1) has that file:line in its first frame and F in
// its last one. (Go 1.20 to 1.27 never inline a function that contains a go
// statement, so in practice that is a single frame.) Likewise,
// runtime.CallersFrames looks up a return PC at pc-1.
//
// Function names are given as the runtime prints them: shape arguments of
// generic functions become "[...]" ("main.gen[...]").
package addr2line
