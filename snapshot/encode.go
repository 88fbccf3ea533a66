package snapshot

import (
	"bufio"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// writeGoroutines writes the goroutines array of a snapshot document, one compact
// goroutine a line, as encoding/json (HTML escaping off) writes a Goroutine, byte for
// byte. It is written by hand because encoding/json's reflection was most of the time of
// `--format json` at 1,000,000 goroutines; each goroutine is appended to one reused
// buffer and streamed through w, so nothing grows with the snapshot.
func writeGoroutines(w *bufio.Writer, gs []Goroutine) error {
	w.WriteString("[")
	var (
		e encoder
		b []byte
	)
	for i := range gs {
		var err error
		b = b[:0]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		if b, err = e.appendGoroutine(b, &gs[i]); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
	}
	if len(gs) > 0 {
		w.WriteString("\n  ")
	}
	if _, err := w.WriteString("]"); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// encoder keeps what writeGoroutines reuses from one goroutine to the next.
type encoder struct {
	keys []string // a label map's keys, sorted
	// The go statements and start functions are shared *Locations, and the goroutines of
	// one go statement mostly come one after the other: the last ones written are kept
	// encoded (the snapshot is not modified while it is written).
	locs    [4]*Location
	locJSON [4][]byte
	nextLoc int
}

// appendGoroutine appends g as encoding/json encodes a Goroutine (the field order, the
// omitempty rules and the string escaping of its struct tags).
func (e *encoder) appendGoroutine(b []byte, g *Goroutine) ([]byte, error) {
	b = append(b, '{')
	if g.ID != 0 {
		b = strconv.AppendInt(append(b, `"id":`...), g.ID, 10)
		b = append(b, ',')
	}
	if g.ParentID != 0 {
		b = strconv.AppendInt(append(b, `"parentId":`...), g.ParentID, 10)
		b = append(b, ',')
	}
	b = appendString(append(b, `"status":`...), string(g.Status))
	if g.WaitReason != "" {
		b = appendString(append(b, `,"waitReason":`...), g.WaitReason)
	}
	if g.WaitSeconds != 0 {
		var err error
		if b, err = appendFloat(append(b, `,"waitSeconds":`...), g.WaitSeconds); err != nil {
			return b, fmt.Errorf("encode snapshot: goroutine %d: %w", g.ID, err)
		}
	}
	if g.SeenSeconds != 0 {
		var err error
		if b, err = appendFloat(append(b, `,"seenSeconds":`...), g.SeenSeconds); err != nil {
			return b, fmt.Errorf("encode snapshot: goroutine %d: %w", g.ID, err)
		}
	}
	if g.Origin != nil {
		b = e.appendShared(append(b, `,"origin":`...), g.Origin)
	}
	if g.Start != nil {
		b = e.appendShared(append(b, `,"start":`...), g.Start)
	}
	if len(g.Frames) > 0 {
		b = append(b, `,"frames":[`...)
		for i := range g.Frames {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendLocation(b, &g.Frames[i])
		}
		b = append(b, ']')
	}
	if g.StackBytes != 0 {
		b = strconv.AppendInt(append(b, `,"stackBytes":`...), g.StackBytes, 10)
	}
	if len(g.Labels) > 0 {
		e.keys = e.keys[:0]
		for k := range g.Labels {
			e.keys = append(e.keys, k)
		}
		slices.Sort(e.keys) // encoding/json sorts a map's keys as Go strings
		b = append(b, `,"labels":{`...)
		for i, k := range e.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(append(appendString(b, k), ':'), g.Labels[k])
		}
		b = append(b, '}')
	}
	b = strconv.AppendBool(append(b, `,"system":`...), g.System)
	if g.LockedToThread {
		b = append(b, `,"lockedToThread":true`...)
	}
	if g.Changed {
		b = append(b, `,"changed":true`...)
	}
	if g.Leak != "" {
		b = appendString(append(b, `,"leak":`...), string(g.Leak))
	}
	if len(g.WaitsOn) > 0 {
		b = append(b, `,"waitsOn":[`...)
		for i, w := range g.WaitsOn {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendWaitObject(b, w)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendWaitObject appends w as encoding/json encodes a WaitObject.
func appendWaitObject(b []byte, w WaitObject) []byte {
	b = appendString(append(b, `{"kind":`...), w.Kind)
	b = appendString(append(b, `,"addr":`...), w.Addr)
	if w.Type != "" {
		b = appendString(append(b, `,"type":`...), w.Type)
	}
	if w.ReachedFrom != "" {
		b = appendString(append(b, `,"reachedFrom":`...), w.ReachedFrom)
	}
	return append(b, '}')
}

// appendShared appends l, a Location goroutines share, from the recent encodings when it
// is one of them.
func (e *encoder) appendShared(b []byte, l *Location) []byte {
	for i, p := range e.locs {
		if p == l {
			return append(b, e.locJSON[i]...)
		}
	}
	n := len(b)
	b = appendLocation(b, l)
	i := e.nextLoc
	e.locs[i], e.locJSON[i] = l, append(e.locJSON[i][:0], b[n:]...)
	e.nextLoc = (i + 1) % len(e.locs)
	return b
}

// appendLocation appends l as encoding/json encodes a Location.
func appendLocation(b []byte, l *Location) []byte {
	b = appendString(append(b, `{"func":`...), l.Func)
	if l.File != "" {
		b = appendString(append(b, `,"file":`...), l.File)
	}
	if l.Line != 0 {
		b = strconv.AppendInt(append(b, `,"line":`...), int64(l.Line), 10)
	}
	if l.PC != "" {
		b = appendString(append(b, `,"pc":`...), l.PC)
	}
	if l.Inlined {
		b = append(b, `,"inlined":true`...)
	}
	return append(b, '}')
}

// appendFloat appends f as encoding/json encodes a float64: the shortest decimal that
// reads back as f, in exponent form outside [1e-6, 1e21). NaN and the infinities have no
// JSON form: an error, as encoding/json returns.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, fmt.Errorf("unsupported value: %v", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-07 → e-7, as encoding/json (and JavaScript) write it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string (RFC 8259) as encoding/json writes it with
// HTML escaping off: '"', '\\' and the control characters escaped (\b \f \n \r \t by
// name, the rest as \u00XX), every byte of invalid UTF-8 replaced by \ufffd, and U+2028
// and U+2029 escaped so that the document is also valid JavaScript. Anything from a
// target is hostile; the result is always valid JSON, whatever s holds.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
