package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Encode writes s as an indented JSON document of schema Schema. It sets the schema
// field itself (s is not modified), so a hand-built snapshot encodes correctly.
func Encode(w io.Writer, s *Snapshot) error {
	c := *s
	c.Schema = Schema
	if c.Goroutines == nil {
		c.Goroutines = []Goroutine{} // "goroutines": [] rather than null
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	return nil
}

// Decode reads one JSON snapshot document written by Encode. It rejects a document
// without the expected schema and one that breaks the model's invariants (Validate).
func Decode(r io.Reader) (*Snapshot, error) {
	dec := json.NewDecoder(r)
	var s Snapshot
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("decode snapshot: empty input: want a JSON document of schema %q (written by gorigin --format json)", Schema)
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
	return &s, nil
}
