// Package scripts holds gorigin's scripts for people inside a debugger: gorigin_gdb.py,
// the GDB command goroutines-by-origin, and gorigin.star, the Delve command origins. They
// are embedded so that the gorigin binary can hand them to a debugger it starts (gorigin
// gdb PID|CORE); this package runs nothing itself.
package scripts

import _ "embed"

// GDB is the text of gorigin_gdb.py.
//
//go:embed gorigin_gdb.py
var GDB []byte

// Delve is the text of gorigin.star, the Delve command origins.
//
//go:embed gorigin.star
var Delve []byte
