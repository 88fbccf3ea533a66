package report

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// TestJSONGroupsField: the document is the snapshot Decode reads back whole, plus the
// groups, whatever sizes the writes to it come in.
func TestJSONGroupsField(t *testing.T) {
	s := apiServer()
	var want bytes.Buffer
	if err := snapshot.Encode(&want, s); err != nil {
		t.Fatal(err)
	}
	k, _ := snapshot.ParseKey("label:tenant")
	{
		var buf bytes.Buffer
		if err := Render(&buf, "json", snapshot.GroupSnapshot(s, k), Options{Top: 2}); err != nil {
			t.Fatal(err)
		}
		back, err := snapshot.Decode(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		var again bytes.Buffer
		snapshot.Encode(&again, back)
		if again.String() != want.String() {
			t.Errorf("the snapshot in the document is not the snapshot")
		}
		var doc struct {
			GroupedBy     string
			GroupsOmitted int
			Groups        []struct {
				Key        string
				Count      int
				LabelValue *string
			}
		}
		if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.GroupedBy != "label:tenant" || len(doc.Groups) != 2 || doc.GroupsOmitted != 1 {
			t.Fatalf("groupedBy %q, %d groups, %d omitted; want label:tenant, 2 (--top), 1", doc.GroupedBy, len(doc.Groups), doc.GroupsOmitted)
		}
		// 2,036 goroutines have no tenant label, 6 have tenant=a, 5 tenant=b.
		if g := doc.Groups[0]; g.Count != 2036 || g.LabelValue != nil {
			t.Errorf("first group %q ×%d label %v, want the 2,036 without the label, and no labelValue", g.Key, g.Count, g.LabelValue)
		}
		if g := doc.Groups[1]; g.Count != 6 || g.LabelValue == nil || *g.LabelValue != "a" {
			t.Errorf("second group %q ×%d label %v, want tenant=a ×6", g.Key, g.Count, g.LabelValue)
		}
	}
}

// TestOpenTail: an object written in writes of any size comes out without its closing
// brace; what is not an object is refused.
func TestOpenTail(t *testing.T) {
	doc := "{\n  \"a\": [1, 2, 3],\n  \"b\": \"}\"\n}\n"
	for _, size := range []int{1, 3, 15, 16, 17, 1000} {
		var buf bytes.Buffer
		o := &openTail{w: &buf}
		for i := 0; i < len(doc); i += size {
			o.Write([]byte(doc[i:min(i+size, len(doc))]))
		}
		if err := o.open(); err != nil {
			t.Fatalf("writes of %d: %v", size, err)
		}
		if want := doc[:len(doc)-3]; buf.String() != want {
			t.Errorf("writes of %d: %q, want %q", size, buf.String(), want)
		}
	}
	o := &openTail{w: io.Discard}
	o.Write([]byte("[1, 2]\n"))
	if err := o.open(); err == nil {
		t.Error("an array was opened as an object")
	}
}

// BenchmarkJSONGroups100k writes --format json's document (the snapshot and its groups)
// and, for the ratio in the same run, the snapshot alone: the difference is what the
// groups cost.
func BenchmarkJSONGroups100k(b *testing.B) {
	s := bigSnapshot(100_000)
	g := snapshot.GroupSnapshot(s, snapshot.Key{})
	b.Run("with-groups", func(b *testing.B) {
		for b.Loop() {
			if err := Render(io.Discard, "json", g, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("snapshot-only", func(b *testing.B) {
		for b.Loop() {
			if err := JSON(io.Discard, s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
