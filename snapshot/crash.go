package snapshot

// Crash is the panic or fatal error a traceback (a crash log read by gorigin dump) ends
// a program with.
type Crash struct {
	// Message is the runtime's own text, one or more lines: "panic: ..." (with any
	// "[recovered]" panics and the "[signal ...]" line under it) or "fatal error: ...".
	// It is the program's text: escape it before a terminal.
	Message string `json:"message"`
	// Goroutine is the id of the goroutine the traceback shows first, the one that
	// panicked or hit the fatal error; 0 when the dump does not say.
	Goroutine int64 `json:"goroutine,omitempty"`
}
