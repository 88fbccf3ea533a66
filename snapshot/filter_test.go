package snapshot

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	tests := []struct {
		name           string
		match, exclude []string
		want           []int64
	}{
		{"no filters keep everything", nil, nil, []int64{1, 2, 10, 11, 12, 20, 21, 30, 31, 40}},
		{"origin matches the go statement's func file:line", []string{"origin:startGoRoutine"}, nil, []int64{10, 11, 12, 20, 21}},
		{"origin ^$ selects goroutines without a go statement", []string{"origin:^$"}, nil, []int64{1}},
		{"start matches the start function", []string{"start:^main.worker "}, nil, []int64{10, 11, 12}},
		{"start matches its file:line too", []string{"start:handle.go:1$"}, nil, []int64{30, 31, 40}},
		{"location matches the top user frame", []string{"location:worker.go:15"}, nil, []int64{12}},
		{"wait matches status: reason", []string{"wait:chan receive"}, nil, []int64{10, 11}},
		{"wait matches the bare status", []string{"wait:^waiting$"}, nil, []int64{1, 2, 10, 11, 20, 21, 40}},
		{"wait status: reason anchors", []string{"wait:^waiting: select$"}, nil, []int64{1, 20, 21}},
		{"several matches are ANDed", []string{"origin:startGoRoutine", "wait:select"}, nil, []int64{20, 21}},
		{"several excludes are ORed", nil, []string{"start:worker", "start:poller"}, []int64{1, 2, 30, 31, 40}},
		{"exclude wins over match", []string{"origin:startGoRoutine"}, []string{"wait:running"}, []int64{10, 11, 20, 21}},
		{"label matches the value", []string{"label:tenant=^a$"}, nil, []int64{10, 11, 30}},
		{"label ^$ selects a missing or empty label", []string{"label:tenant=^$"}, nil, []int64{1, 2, 20, 21, 31, 40}},
		{"exclude label", nil, []string{"label:tenant=."}, []int64{1, 2, 20, 21, 31, 40}},
		{"no prefix matches frames", []string{"chanrecv1"}, nil, []int64{10, 11, 12}},
		{"no prefix matches the wait", []string{"IO wait"}, nil, []int64{40}},
		{"no prefix matches the start", []string{"bgsweep"}, nil, []int64{2}},
		{"a file:line regex is not a field prefix", []string{"main.go:30"}, nil, []int64{30, 31}},
		{"a regex group with a colon is not a field prefix", []string{"(?i:MAIN.SERVE)"}, nil, []int64{40}},
		{"nothing matches", []string{"origin:nosuchfunc"}, nil, []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse := func(ss []string) []Filter {
				var fs []Filter
				for _, s := range ss {
					f, err := ParseFilter(s)
					if err != nil {
						t.Fatalf("ParseFilter(%q): %v", s, err)
					}
					if f.String() != s {
						t.Errorf("Filter.String() = %q, want %q", f.String(), s)
					}
					fs = append(fs, f)
				}
				return fs
			}
			gs := fixture()
			before := fixture()
			got := allIDs(Select(gs, parse(tt.match), parse(tt.exclude)))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Select(match %q, exclude %q) = %v, want %v", tt.match, tt.exclude, got, tt.want)
			}
			if !reflect.DeepEqual(gs, before) {
				t.Errorf("Select modified its input")
			}
		})
	}
}

func TestSelectKeepsOrder(t *testing.T) {
	gs := fixture()
	f, err := ParseFilter("start:worker")
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, g := range Select(gs, []Filter{f}, nil) {
		got = append(got, g.ID)
	}
	if want := []int64{12, 10, 11}; !reflect.DeepEqual(got, want) {
		t.Errorf("Select order %v, want the input order %v", got, want)
	}
}

func TestSelectWithoutFiltersAppendsSafely(t *testing.T) {
	gs := append(make([]Goroutine, 0, 64), fixture()...) // spare capacity to write into
	got := Select(gs, nil, nil)
	if !reflect.DeepEqual(got, gs) {
		t.Fatalf("Select without filters = %v, want every goroutine %v", got, gs)
	}
	before := slices.Clone(gs[:cap(gs)])
	_ = append(got, Goroutine{ID: 999})
	if !reflect.DeepEqual(gs[:cap(gs)], before) {
		t.Errorf("appending to Select's result wrote into its input's spare capacity")
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"bad regex", "origin:(", "bad regular expression"},
		{"bad regex without prefix", "a[", "bad regular expression"},
		{"unknown prefix names the valid ones", "orgin:main", "origin:, start:, location:, wait:, label:KEY="},
		{"label without =", "label:tenant", "label:KEY=REGEX"},
		{"label without key", "label:=a", "label:KEY=REGEX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFilter(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.in) {
				t.Errorf("ParseFilter(%q) error %v, want one naming the filter and containing %q", tt.in, err, tt.want)
			}
		})
	}
}
