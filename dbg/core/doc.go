// Package core is the dbg.Target of an ELF core dump (Linux, 64-bit): the memory the core
// holds, the memory it left out read back from the files that were mapped (as a debugger
// does), the threads and registers it recorded, and the executable it came from, checked by
// build ID.
//
// It reads cores written by the kernel, by GDB's gcore and by Delve's dump command. It
// knows nothing about the Go runtime (package gstruct does); it never writes anything.
package core
