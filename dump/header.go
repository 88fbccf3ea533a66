package dump

import (
	"bytes"
	"strconv"
	"strings"
)

// header is what a goroutine header line says:
//
//	goroutine 17 [chan receive, 3 minutes, locked to thread]:
//	goroutine 17 gp=0xc000007c00 m=3 mp=0xc000100008 [running]:   (Go 1.22+, crash or GOTRACEBACK=system)
//	goroutine 17 [chan receive (durable), synctest bubble 4]:     (Go 1.25+; "synctest group" in 1.24)
//	goroutine 17 [chan receive (leaked)]:                         (Go 1.26+ goroutine leak detection)
//	goroutine 17 [chan receive labels:{"k": "v"}]:                (Go 1.26, GODEBUG=tracebacklabels=1)
//	goroutine 17 [chan receive] {k: v, "k 2": "v 2"}:             (Go 1.27+)
type header struct {
	id      int64
	state   string // the bracket's first field, "(scan)" and "(leaked)" taken off
	leaked  bool
	minutes int
	locked  bool
	labels  map[string]string
	// labelsBad is set when the labels could not be read in full.
	labelsBad bool
}

// The words a header search looks for, as package variables: converted in find, each
// would be allocated again for every header (three allocations per goroutine).
var (
	goroutinePrefix = []byte("goroutine ")
	bracketOpen     = []byte(" [")
	labelsOpen      = []byte(" labels:{")
	bracketClose    = []byte("]")
)

// maxState bounds the bracket's text before any labels ("chan receive (durable), 1234
// minutes, locked to thread, synctest bubble 5" and the like): a longer one is not a header.
const maxState = 256

// findHeader looks for a goroutine header in line, after any log prefix, and returns it
// and where it starts. It takes time linear in the line's length however many
// "goroutine " words the prefix holds: the searches to the right of each candidate go
// through cursors that only move forward, and what is left per candidate is bounded.
func findHeader(line []byte, in *interner) (header, int, bool) {
	// Every header ends in ':' (before trailing blanks): most lines are rejected here,
	// without a search.
	end := len(line)
	for end > 0 && (line[end-1] == ' ' || line[end-1] == '\t') {
		end--
	}
	if end == 0 || line[end-1] != ':' {
		return header{}, 0, false
	}
	sc := headerScan{line: line[:end-1]}
	return sc.find(in)
}

// headerScan is one line being searched for a header, without its final ':'.
type headerScan struct {
	line                   []byte
	bracket, labels, close cursor
	// searched counts the bytes the searches went through (the tests check that it stays
	// a small multiple of the line's length).
	searched int
}

func (sc *headerScan) find(in *interner) (header, int, bool) {
	sc.bracket.pat, sc.labels.pat, sc.close.pat = bracketOpen, labelsOpen, bracketClose
	line := sc.line
	off := 0
	for {
		i := bytes.Index(line[off:], goroutinePrefix)
		if i < 0 {
			sc.searched += len(line) - off
			return header{}, 0, false
		}
		sc.searched += i + len(goroutinePrefix)
		at := off + i
		if h, ok := sc.parse(at+len(goroutinePrefix), in); ok {
			return h, at, true
		}
		off = at + len(goroutinePrefix)
	}
}

// cursor finds pat in a line at or after positions that never decrease, so that every
// byte is searched once.
type cursor struct {
	pat      []byte
	from, at int // the last search: from where, and the first match at or after it (-1: none)
	done     bool
}

func (c *cursor) find(line []byte, from int, searched *int) int {
	if c.done && from >= c.from && (c.at < 0 || from <= c.at) {
		return c.at
	}
	c.from, c.at, c.done = from, -1, true
	if i := bytes.Index(line[from:], c.pat); i >= 0 {
		c.at = from + i
		*searched += i + len(c.pat)
	} else {
		*searched += len(line) - from
	}
	return c.at
}

// parse reads a header whose "goroutine " word ends at p.
func (sc *headerScan) parse(p int, in *interner) (header, bool) {
	var h header
	line := sc.line
	n := 0
	for p+n < len(line) && n < 20 && '0' <= line[p+n] && line[p+n] <= '9' {
		n++
	}
	if n == 0 || p+n >= len(line) {
		return h, false
	}
	id, ok := atoi(line[p : p+n])
	if !ok {
		return h, false
	}
	h.id = id
	p += n
	b := p // where " [" is
	if bytes.HasPrefix(line[p:], []byte(" gp=")) {
		if b = sc.bracket.find(line, p, &sc.searched); b < 0 {
			return h, false
		}
	} else if !bytes.HasPrefix(line[p:], []byte(" [")) {
		return h, false
	}
	start := b + 2 // the bracket's text, up to the end of the line
	s := line[start:]
	var state, labels []byte
	hasLabels := false
	if i := sc.labels.find(line, start, &sc.searched); i >= 0 && bytes.HasSuffix(s, []byte("}]")) {
		i -= start
		state, labels, hasLabels = s[:i], s[i+len(" labels:{"):len(s)-2], true
	} else {
		i := sc.close.find(line, start, &sc.searched)
		if i < 0 {
			return h, false
		}
		i -= start
		state = s[:i]
		rest := s[i+1:]
		if len(rest) > 0 {
			if !bytes.HasPrefix(rest, []byte(" {")) || !bytes.HasSuffix(rest, []byte("}")) {
				return h, false
			}
			labels, hasLabels = rest[2:len(rest)-1], true
		}
	}
	if len(state) > maxState {
		return h, false
	}
	first := true
	for len(state) > 0 {
		var part []byte
		if i := bytes.Index(state, []byte(", ")); i >= 0 {
			part, state = state[:i], state[i+2:]
		} else {
			part, state = state, nil
		}
		if first {
			first = false
			h.state = in.str(h.stateText(part))
			continue
		}
		switch {
		case bytes.HasSuffix(part, []byte(" minutes")):
			if m, ok := atoi(part[:len(part)-len(" minutes")]); ok && m <= 1<<40 {
				h.minutes = int(m)
			}
		case string(part) == "locked to thread":
			h.locked = true
		}
		// "synctest bubble N" and fields of future runtimes: nothing in the model.
	}
	if h.state == "" {
		return h, false
	}
	// Only now, once the header is certain: the labels may run to the end of the line.
	if hasLabels {
		h.labels, h.labelsBad = in.parseLabels(labels)
	}
	return h, true
}

// durableReasons are wait reasons whose name ends in "(durable)" (synctest); on any
// other the runtime appends " (durable)" as a mark, which is not part of the reason.
var durableReasons = map[string]bool{
	"chan receive (durable)":        true,
	"chan send (durable)":           true,
	"select (durable)":              true,
	"sync.WaitGroup.Wait (durable)": true,
}

// stateText takes the marks off the bracket's first field.
func (h *header) stateText(b []byte) []byte {
	for {
		switch {
		case bytes.HasSuffix(b, []byte(" (scan)")):
			b = b[:len(b)-len(" (scan)")]
		case bytes.HasSuffix(b, []byte(" (leaked)")):
			b = b[:len(b)-len(" (leaked)")]
			h.leaked = true
		case bytes.HasSuffix(b, []byte(" (durable)")) && !durableReasons[string(b)]:
			b = b[:len(b)-len(" (durable)")]
		default:
			return b
		}
	}
}

// gStatus maps the runtime's goroutine status names (runtime.gStatusStrings) that a
// header shows in place of a wait reason to the model's status; ok is false for any
// other text (a wait reason). A switch, not a map: it is asked for every goroutine.
func gStatus(state string) (status string, ok bool) {
	switch state {
	case "idle", "runnable", "running", "syscall", "waiting", "dead", "copystack", "preempted", "leaked":
		return state, true
	case "waiting for cgo callback":
		return "dead", true // _Gdeadextra (Go 1.27)
	case "???":
		return "unknown", true
	}
	return "", false
}

// status maps the header to the model: a waiting goroutine's header shows its wait
// reason, any other its status. A leaked goroutine keeps its reason ("[select (no cases)
// (leaked)]"), as a live read of a _Gleaked goroutine does; "[leaked (leaked)]" has none.
func (h *header) status() (status, reason string) {
	if h.leaked {
		if _, ok := gStatus(h.state); ok {
			return "leaked", ""
		}
		return "leaked", h.state
	}
	if st, ok := gStatus(h.state); ok {
		return st, ""
	}
	return "waiting", h.state
}

// labelEntrySize is what one entry of a label map costs beyond its strings.
const labelEntrySize = 48

// parseLabels reads `"k": "v", "k2": "v2"` (Go 1.26: always quoted) or `k: v, "k 2": v`
// (Go 1.27+: quoted when needed). It keeps what it could read and reports whether
// something could not be.
func parseLabels(s string, in *interner) (map[string]string, bool) {
	labels := map[string]string{}
	for s != "" {
		k, rest, ok := labelToken(s)
		if !ok {
			return labels, true
		}
		rest, ok = strings.CutPrefix(rest, ":")
		if !ok {
			return labels, true
		}
		rest = strings.TrimPrefix(rest, " ")
		v, rest, ok := labelToken(rest)
		if !ok {
			return labels, true
		}
		labels[in.str([]byte(k))] = in.str([]byte(v))
		in.kept += labelEntrySize
		if rest == "" {
			break
		}
		rest, ok = strings.CutPrefix(rest, ",")
		if !ok {
			return labels, true
		}
		s = strings.TrimPrefix(rest, " ")
	}
	return labels, false
}

// labelToken reads a quoted string or an unquoted run up to ':' or ','.
func labelToken(s string) (tok, rest string, ok bool) {
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", "", false
		}
		tok, err := strconv.Unquote(q)
		if err != nil {
			return "", "", false
		}
		return tok, s[len(q):], true
	}
	i := strings.IndexAny(s, ":,")
	if i < 0 {
		i = len(s)
	}
	return strings.TrimRight(s[:i], " "), s[i:], true
}

// atoi reads a non-negative decimal number of at most 18 digits (no sign, no overflow)
// without the allocation strconv's error path makes the conversion cost.
func atoi(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
