package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func init() { register("json", jsonDocument) }

// JSON writes s as a snapshot document of schema snapshot.Schema: the whole snapshot,
// not the groups, so that any later run can group, filter and diff it again.
func JSON(w io.Writer, s *snapshot.Snapshot) error {
	return snapshot.Encode(w, s)
}

// jsonDocument writes the snapshot document (JSON) with the groups the table would show
// added as its last fields: "groupedBy" (the --by key), "groups" (at most opt.Top, largest
// first) and "groupsOmitted" (how many --top left out). The goroutines are the document's
// as ever, and a reader of the schema skips fields it does not know (snapshot.Decode does),
// so the schema stays snapshot.Schema.
func jsonDocument(w io.Writer, s *snapshot.Snapshot, groups []snapshot.Group, opt Options) error {
	doc := &openTail{w: w}
	if err := snapshot.Encode(doc, s); err != nil {
		return err
	}
	if err := doc.open(); err != nil {
		return err
	}
	shown := groups
	if opt.Top > 0 && len(shown) > opt.Top {
		shown = shown[:opt.Top]
	}
	var b bytes.Buffer
	by, _ := json.Marshal(opt.by.String())
	fmt.Fprintf(&b, ",\n  \"groupedBy\": %s,\n  \"groups\": [", by)
	for i := range shown {
		g, err := json.Marshal(groupJSON(&shown[i], opt.by))
		if err != nil {
			return fmt.Errorf("encode groups: %w", err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n    ")
		b.Write(g)
	}
	if len(shown) > 0 {
		b.WriteString("\n  ")
	}
	b.WriteString("]")
	if n := len(groups) - len(shown); n > 0 {
		fmt.Fprintf(&b, ",\n  \"groupsOmitted\": %d", n)
	}
	b.WriteString("\n}\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write groups: %w", err)
	}
	return nil
}

// jsonGroup is one element of the document's "groups": a snapshot.Group without the
// members, which are the goroutines'.
type jsonGroup struct {
	Key            string             `json:"key"`
	Count          int                `json:"count"`
	States         []jsonState        `json:"states"`
	Origin         *snapshot.Location `json:"origin,omitempty"`
	Start          *snapshot.Location `json:"start,omitempty"`
	Location       *snapshot.Location `json:"location,omitempty"`
	MaxWaitSeconds float64            `json:"maxWaitSeconds,omitempty"`
	StackBytes     int64              `json:"stackBytes,omitempty"`
	Examples       []int64            `json:"examples,omitempty"`
	LabelValue     *string            `json:"labelValue,omitempty"`
	ParentOrigin   *snapshot.Location `json:"parentOrigin,omitempty"`
	ParentStart    *snapshot.Location `json:"parentStart,omitempty"`
	Parents        []int64            `json:"parents,omitempty"`
}

type jsonState struct {
	Status     snapshot.Status `json:"status"`
	WaitReason string          `json:"waitReason,omitempty"`
	Count      int             `json:"count"`
}

// groupJSON is g in the document. Origin, Start and Location are the key's under keys
// origin, start and location, the representative's otherwise (as in Group).
func groupJSON(g *snapshot.Group, k snapshot.Key) jsonGroup {
	j := jsonGroup{Key: g.Key, Count: g.Count, Origin: g.Origin, Start: g.Start, Location: g.Location,
		MaxWaitSeconds: g.MaxWaitSeconds, StackBytes: g.StackBytes, Examples: g.Examples,
		ParentOrigin: g.ParentOrigin, ParentStart: g.ParentStart, Parents: g.Parents}
	j.States = make([]jsonState, len(g.States))
	for i, st := range g.States {
		j.States[i] = jsonState{Status: st.Status, WaitReason: st.WaitReason, Count: st.Count}
	}
	if k.Kind == snapshot.ByLabel && !strings.HasPrefix(g.Key, "(") { // "" is a value; no label is none
		v := g.LabelValue
		j.LabelValue = &v
	}
	return j
}

// openTail passes a JSON object through but for its closing brace and what follows it,
// so that fields can be added after the object's own.
type openTail struct {
	w    io.Writer
	held []byte // the end of what was written: the brace may be in it
}

const heldBytes = 16

func (t *openTail) Write(p []byte) (int, error) {
	if len(p) >= heldBytes { // the usual case, a buffer full: written without a copy
		if _, err := t.w.Write(t.held); err != nil {
			return 0, err
		}
		if _, err := t.w.Write(p[:len(p)-heldBytes]); err != nil {
			return 0, err
		}
		t.held = append(t.held[:0], p[len(p)-heldBytes:]...)
		return len(p), nil
	}
	t.held = append(t.held, p...)
	if n := len(t.held) - heldBytes; n > 0 {
		if _, err := t.w.Write(t.held[:n]); err != nil {
			return 0, err
		}
		t.held = append(t.held[:0], t.held[n:]...)
	}
	return len(p), nil
}

// open writes what was held but the closing brace and the blanks around it.
func (t *openTail) open() error {
	end := bytes.TrimRight(t.held, " \t\r\n")
	if !bytes.HasSuffix(end, []byte("}")) {
		return fmt.Errorf("encode groups: the snapshot document does not end with its object's brace (%q)", t.held)
	}
	if _, err := t.w.Write(bytes.TrimRight(end[:len(end)-1], " \t\r\n")); err != nil {
		return fmt.Errorf("write groups: %w", err)
	}
	return nil
}
