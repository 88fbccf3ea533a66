package snapshot

import (
	"unsafe"
)

// ErrTooLarge is wrapped by every reader of a dump or a JSON snapshot that stopped because
// the input needs more memory than a real one of its size: a crafted or damaged file, or
// a stream that does not end. It is bad input (the CLI's exit status 2).
var ErrTooLarge error = inputError("input too large for gorigin to hold (crafted, damaged or endless?)")

// inputError is an error about the input, not gorigin's: it has the method
// BadInput() bool that the command line's exit status reads (see dbg.BadInput).
type inputError string

func (e inputError) Error() string  { return string(e) }
func (e inputError) BadInput() bool { return true }

// Sizes of the model's structs, for readers that count what they keep.
const (
	GoroutineSize = int64(unsafe.Sizeof(Goroutine{}))
	LocationSize  = int64(unsafe.Sizeof(Location{}))
)
