package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Encode writes s as a JSON document of schema Schema: the envelope indented, each
// goroutine compact on a line of its own (a 100,000-goroutine snapshot stays fast to write
// and easy to grep). It sets the schema field itself (s is not modified), so a hand-built
// snapshot encodes correctly.
func Encode(w io.Writer, s *Snapshot) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	marshal := func(v any) ([]byte, error) { // valid until the next call
		b.Reset()
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("encode snapshot: %w", err)
		}
		return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
	}
	src, err := json.MarshalIndent(s.Source, "  ", "  ")
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	fmt.Fprintf(bw, "{\n  \"schema\": %q,\n  \"source\": %s,\n  \"goroutines\": ", Schema, src)
	if err := writeGoroutines(bw, s.Goroutines); err != nil {
		return err
	}
	if len(s.Warnings) > 0 {
		ws, err := marshal(s.Warnings)
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, ",\n  \"warnings\": %s", ws)
	}
	if s.Leaks != nil {
		ls, err := json.MarshalIndent(s.Leaks, "  ", "  ")
		if err != nil {
			return fmt.Errorf("encode snapshot: %w", err)
		}
		fmt.Fprintf(bw, ",\n  \"leaks\": %s", ls)
	}
	if s.Crash != nil {
		cs, err := marshal(s.Crash)
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, ",\n  \"crash\": %s", cs)
	}
	bw.WriteString("\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// MaxDecoded bounds what Decode keeps of one document: its goroutines, and the names,
// locations and stacks they do not share. A real snapshot of 400,000 goroutines with
// their stacks (a 400 MB document) keeps about 80 MB. A document that needs more is
// refused (ErrTooLarge) rather than allowed to exhaust memory.
const MaxDecoded = 256 << 20

// Decode reads one JSON snapshot document written by Encode. It rejects a document
// without the expected schema, one that breaks the model's invariants (Validate), and one
// whose goroutines would keep more than MaxDecoded bytes. The goroutines are decoded one
// at a time and share their names, locations and stacks, so the memory used is what the
// snapshot keeps, not the document's size.
func Decode(r io.Reader) (*Snapshot, error) {
	return decode(r, MaxDecoded)
}

func decode(r io.Reader, budget int64) (*Snapshot, error) {
	dec := json.NewDecoder(r)
	s, err := decodeFields(dec, budget)
	if err != nil {
		if errors.Is(err, io.EOF) && dec.InputOffset() == 0 {
			return nil, fmt.Errorf("decode snapshot: empty input: want a JSON document of schema %q (written by gorigin --format json)", Schema)
		}
		if errors.Is(err, ErrTooLarge) {
			return nil, fmt.Errorf("decode snapshot: %w", err)
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("decode snapshot: not a JSON snapshot of schema %q: %w", Schema, err)
	}
	switch {
	case s.Schema == "":
		return nil, fmt.Errorf("decode snapshot: no \"schema\" field: want %q (is this a gorigin --format json document?)", Schema)
	case s.Schema != Schema:
		return nil, fmt.Errorf("decode snapshot: schema %q is not supported: this gorigin reads %q; use the gorigin version that wrote it", s.Schema, Schema)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode snapshot: data after the snapshot document: want exactly one document of schema %q", Schema)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("decode snapshot: %w", err)
	}
	return s, nil
}

// decodeFields reads the document's object field by field, the goroutines one by one,
// counting what they keep against budget. Field names match as encoding/json matches
// them (case-insensitively); unknown fields are skipped.
func decodeFields(dec *json.Decoder, budget int64) (*Snapshot, error) {
	var s Snapshot
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var kept int64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		switch {
		case strings.EqualFold(key, "schema"):
			err = dec.Decode(&s.Schema)
		case strings.EqualFold(key, "source"):
			err = dec.Decode(&s.Source)
		case strings.EqualFold(key, "warnings"):
			err = dec.Decode(&s.Warnings)
		case strings.EqualFold(key, "goroutines"):
			s.Goroutines, err = decodeGoroutines(dec, &kept, budget)
		case strings.EqualFold(key, "leaks"):
			var raw json.RawMessage
			if err = dec.Decode(&raw); err != nil {
				break
			}
			// The report holds about what its text does: counted as such.
			if kept += int64(len(raw)); kept > budget {
				return nil, fmt.Errorf("the leaks report of %d bytes takes the snapshot past %d MB: %w", len(raw), budget>>20, ErrTooLarge)
			}
			if string(raw) != "null" {
				s.Leaks = new(LeakReport)
				err = json.Unmarshal(raw, s.Leaks)
			}
		case strings.EqualFold(key, "crash"):
			var raw json.RawMessage
			if err = dec.Decode(&raw); err != nil {
				break
			}
			if kept += int64(len(raw)); kept > budget {
				return nil, fmt.Errorf("the crash message of %d bytes takes the snapshot past %d MB: %w", len(raw), budget>>20, ErrTooLarge)
			}
			if string(raw) != "null" {
				s.Crash = new(Crash)
				err = json.Unmarshal(raw, s.Crash)
			}
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	return &s, nil
}

// decodeGoroutines reads the goroutines array (or null) one element at a time.
func decodeGoroutines(dec *json.Decoder, kept *int64, budget int64) ([]Goroutine, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("\"goroutines\" is %v, want an array", tok)
	}
	// The goroutines are collected in chunks and copied once into a slice of the final
	// size, so that a growing slice does not hold them twice and then some.
	const chunk = 4096
	var (
		chunks [][]Goroutine
		n      int
		sh     sharer
	)
	for dec.More() {
		var g Goroutine
		if err := dec.Decode(&g); err != nil {
			return nil, err
		}
		sh.share(&g)
		if *kept+sh.kept+chunk*GoroutineSize > budget {
			return nil, fmt.Errorf("%d goroutines in, the snapshot needs more than %d MB, more than a real one of that many: %w", n, budget>>20, ErrTooLarge)
		}
		if n%chunk == 0 {
			chunks = append(chunks, make([]Goroutine, 0, chunk))
		}
		chunks[len(chunks)-1] = append(chunks[len(chunks)-1], g)
		n++
	}
	*kept += sh.kept
	gs := make([]Goroutine, 0, n)
	for i, c := range chunks {
		gs = append(gs, c...)
		chunks[i] = nil // held once, and one chunk twice
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return gs, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("found %v where %q belongs", tok, string(want))
	}
	return nil
}
