package report

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func TestFormats(t *testing.T) {
	if got, want := Formats(), []string{"dot", "html", "json", "pprof", "text"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Formats() = %v, want %v", got, want)
	}
}

func TestRenderUnknownFormatListsValidOnes(t *testing.T) {
	s := apiServer()
	err := Render(&bytes.Buffer{}, "yaml", snapshot.GroupSnapshot(s, snapshot.Key{}), Options{})
	if err == nil || !strings.Contains(err.Error(), `"yaml"`) || !strings.Contains(err.Error(), "dot, html, json, pprof, text") {
		t.Errorf("Render(yaml) error %v, want one naming yaml and listing dot, html, json, pprof, text", err)
	}
}

func TestRenderDispatches(t *testing.T) {
	s := apiServer()
	groups := snapshot.GroupSnapshot(s, snapshot.Key{})

	var viaRender, direct bytes.Buffer
	if err := Render(&viaRender, "text", groups, Options{Top: 2}); err != nil {
		t.Fatal(err)
	}
	if err := Text(&direct, groups, TextOptions{Top: 2}); err != nil {
		t.Fatal(err)
	}
	if viaRender.String() != direct.String() {
		t.Errorf("Render(text) differs from Text:\n%s\nvs\n%s", viaRender.String(), direct.String())
	}

	var js bytes.Buffer
	if err := Render(&js, "json", groups, Options{}); err != nil {
		t.Fatal(err)
	}
	back, err := snapshot.Decode(&js)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("Render(json) does not decode to the snapshot it was given")
	}
}
