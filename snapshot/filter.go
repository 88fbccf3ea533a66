package snapshot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Filter selects goroutines by a regular expression over one of their fields, as
// --match and --exclude spell it: "[FIELD:]REGEX" with FIELD one of origin, start,
// location, wait, or "label:KEY=REGEX". Without a field the regex is tried on the
// origin, start, location, wait and every frame. A field the goroutine lacks is matched
// as empty text, so "origin:^$" selects runtime-created goroutines and
// "label:tenant=^$" those without a tenant label.
type Filter struct {
	field string // "" (any), "origin", "start", "location", "wait" or "label"
	label string // the label key when field is "label"
	re    *regexp.Regexp
	text  string // as the user wrote it
}

const filterPrefixes = "origin:, start:, location:, wait:, label:KEY="

// ParseFilter parses a --match or --exclude value.
func ParseFilter(s string) (Filter, error) {
	f := Filter{text: s}
	expr := s
	if word, rest, ok := strings.Cut(s, ":"); ok && isPrefixWord(word) {
		switch word {
		case "origin", "start", "location", "wait":
			f.field, expr = word, rest
		case "label":
			k, v, ok := strings.Cut(rest, "=")
			if !ok || k == "" {
				return Filter{}, fmt.Errorf("filter %q: a label filter is label:KEY=REGEX, e.g. label:tenant=^a$", s)
			}
			f.field, f.label, expr = "label", k, v
		default:
			return Filter{}, fmt.Errorf("filter %q: unknown field %q: valid prefixes are %s (or none, to match any of them and the frames)", s, word+":", filterPrefixes)
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return Filter{}, fmt.Errorf("filter %q: bad regular expression (Go RE2 syntax): %w", s, err)
	}
	f.re = re
	return f, nil
}

// isPrefixWord reports whether the text before a ':' looks like a field name (a plain
// lowercase word) rather than part of a regex such as "main.go:94" or "(?i:serve)".
func isPrefixWord(w string) bool {
	if w == "" {
		return false
	}
	for _, r := range w {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// NeedsStacks reports whether the filter looks at the goroutines' frames alone
// (location:), so that it matches nothing in a snapshot without stacks.
func (f Filter) NeedsStacks() bool { return f.field == "location" }

// String is the filter as the user wrote it.
func (f Filter) String() string { return f.text }

// Match reports whether g matches the filter.
func (f Filter) Match(g *Goroutine) bool {
	if f.re == nil { // the zero Filter matches everything
		return true
	}
	switch f.field {
	case "origin":
		return f.re.MatchString(locText(g.Origin))
	case "start":
		return f.re.MatchString(locText(g.Start))
	case "location":
		return f.re.MatchString(locText(TopUserFrame(g)))
	case "wait":
		return f.matchWait(g)
	case "label":
		return f.re.MatchString(g.Labels[f.label])
	}
	if f.re.MatchString(locText(g.Origin)) || f.re.MatchString(locText(g.Start)) || f.matchWait(g) {
		return true
	}
	for i := range g.Frames {
		if f.re.MatchString(locText(&g.Frames[i])) {
			return true
		}
	}
	return false
}

// matchWait tries "status" and "status: reason".
func (f Filter) matchWait(g *Goroutine) bool {
	if f.re.MatchString(string(g.Status)) {
		return true
	}
	return g.WaitReason != "" && f.re.MatchString(string(g.Status)+": "+g.WaitReason)
}

// locText is l.String() (cheaper: Select calls it for every goroutine), or "" for nil.
func locText(l *Location) string {
	switch {
	case l == nil:
		return ""
	case l.File == "":
		return l.Func
	}
	return l.Func + " " + l.File + ":" + strconv.Itoa(l.Line)
}

// Select returns the goroutines that match every filter in match and none in exclude,
// in their original order. gs is not modified. Without filters it returns gs itself, with
// its capacity cut to its length so that appending to the result copies (1,000,000
// goroutines are 150 MB to copy).
func Select(gs []Goroutine, match, exclude []Filter) []Goroutine {
	if len(match) == 0 && len(exclude) == 0 {
		return gs[:len(gs):len(gs)]
	}
	out := make([]Goroutine, 0, len(gs))
next:
	for i := range gs {
		g := &gs[i]
		for _, f := range match {
			if !f.Match(g) {
				continue next
			}
		}
		for _, f := range exclude {
			if f.Match(g) {
				continue next
			}
		}
		out = append(out, *g)
	}
	return out
}
