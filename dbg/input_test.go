package dbg

import (
	"errors"
	"fmt"
	"testing"
)

// TestErrorf: the error is its kind for errors.Is and BadInput, and its message is the
// format's alone, without the kind's text repeated at the end.
func TestErrorf(t *testing.T) {
	err := Errorf(ErrNotGo, "%s is not a Go program (no Go build info)", "/bin/sleep")
	if got, want := err.Error(), "/bin/sleep is not a Go program (no Go build info)"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("pid 42: %w", err)
	if !errors.Is(wrapped, ErrNotGo) || errors.Is(wrapped, ErrExited) {
		t.Errorf("errors.Is: ErrNotGo %v, ErrExited %v", errors.Is(wrapped, ErrNotGo), errors.Is(wrapped, ErrExited))
	}
	if !BadInput(wrapped) {
		t.Error("an error of kind ErrNotGo is not bad input")
	}
}

// TestBadInput: the sentinels say they are bad input, through any wrapping; other
// errors, and nil, are not.
func TestBadInput(t *testing.T) {
	for _, err := range []error{ErrNoProcess, ErrPermission, ErrExited, ErrNotGo, NewInputError("x")} {
		if !BadInput(err) || !BadInput(fmt.Errorf("a: %w", fmt.Errorf("b: %w", err))) {
			t.Errorf("%v: not bad input", err)
		}
	}
	for _, err := range []error{nil, errors.New("no such process"), fmt.Errorf("read: %v", ErrExited), Errorf(errors.New("kind"), "x")} {
		if BadInput(err) {
			t.Errorf("%v: bad input", err)
		}
	}
}
