package dbg

import (
	"errors"
	"fmt"
)

// BadInput reports whether err is about gorigin's input — the process, core, executable,
// dump or command line it was given — rather than a failure of gorigin's own: some error
// in err's chain has a method BadInput() bool that returns true. Packages opt in by giving
// their sentinel errors that method (NewInputError's do); the command line maps such
// errors to exit status 2.
func BadInput(err error) bool {
	var in interface{ BadInput() bool }
	return errors.As(err, &in) && in.BadInput()
}

// InputError is a sentinel error about gorigin's input: BadInput reports true for every
// error that wraps one.
type InputError struct{ text string }

// NewInputError returns a sentinel error about gorigin's input, with text as its message.
func NewInputError(text string) *InputError { return &InputError{text} }

func (e *InputError) Error() string { return e.text }

// BadInput reports true: the error is about gorigin's input.
func (e *InputError) BadInput() bool { return true }

// Errorf is fmt.Errorf(format, args...) classified as kind: errors.Is(err, kind) holds
// (and so does BadInput when kind is an InputError), but kind's text is not added to the
// message, which already says it in its own words ("pid 42 is not a Go program (...)"
// rather than "...: not a Go program").
func Errorf(kind error, format string, args ...any) error {
	return &classified{err: fmt.Errorf(format, args...), kind: kind}
}

// classified is an error with a kind that its message does not repeat.
type classified struct {
	err  error
	kind error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.err, e.kind} }
