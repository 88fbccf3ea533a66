package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	fmt.Fprintf(bw, "{\n  \"schema\": %q,\n  \"source\": %s,\n  \"goroutines\": [", Schema, src)
	for i := range s.Goroutines {
		g, err := marshal(&s.Goroutines[i])
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(g)
	}
	if len(s.Goroutines) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]")
	if len(s.Warnings) > 0 {
		ws, err := marshal(s.Warnings)
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, ",\n  \"warnings\": %s", ws)
	}
	bw.WriteString("\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
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
