package snapshot

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestVocabularies: each typed word encodes as the bare word the JSON schema holds, the
// predicates accept exactly the words of their lists, and ParseKey reads every key kind.
func TestVocabularies(t *testing.T) {
	g := Goroutine{Status: StatusWaiting, Leak: Leaked}
	src := Source{Kind: KindCore, Backend: BackendGDB, Freeze: FreezeNever}
	b, err := json.Marshal(struct {
		G Goroutine
		S Source
	}{g, src})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"status":"waiting"`, `"leak":"leaked"`, `"kind":"core"`, `"backend":"gdb"`, `"freeze":"never"`} {
		if !json.Valid(b) || !strings.Contains(string(b), want) {
			t.Errorf("JSON %s does not hold %s", b, want)
		}
	}
	for _, s := range Statuses {
		if !s.Known() {
			t.Errorf("%s is in Statuses but not Known", s)
		}
	}
	for _, s := range []Status{"", "Waiting", "sleeping"} {
		if s.Known() {
			t.Errorf("status %q is Known", s)
		}
	}
	for _, k := range []SourceKind{KindLive, KindCore, KindDump} {
		if !k.Known() {
			t.Errorf("%s is not Known", k)
		}
	}
	if SourceKind("agent").Known() {
		t.Error(`source kind "agent" is Known`)
	}
	for _, k := range KeyKinds {
		text := string(k)
		if k == ByLabel {
			text = "label:tenant"
		}
		if key, err := ParseKey(text); err != nil || key.Kind != k || key.String() != text {
			t.Errorf("ParseKey(%q) = %+v, %v", text, key, err)
		}
	}
}
