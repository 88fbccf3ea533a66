// Package oracle parses the Go runtime's own goroutine tracebacks (the text of
// /debug/pprof/goroutine?debug=2 and runtime.Stack(buf, true)) so that gorigin's
// end-to-end tests can compare gorigin's answer with the runtime's.
//
// It is test infrastructure, written from the runtime's traceback.go of Go 1.20 to 1.27
// and kept apart from gorigin's own dump parser so that the two stay independent. It is
// strict: a line it does not recognise is an error, so a new runtime format cannot make
// a comparison pass by being silently skipped.
package oracle

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Goroutine is one goroutine block of a traceback.
type Goroutine struct {
	ID int64
	// Status is the header's state as the runtime printed it: the wait reason of a
	// waiting goroutine ("chan receive", "select (no cases)", "sync.Mutex.Lock"), else
	// the status ("running", "runnable", "syscall"). The "(scan)" and "(leaked)" marks
	// are taken off into Scan and Leaked; a synctest "(durable)" mark is left on.
	Status         string
	Scan           bool
	Leaked         bool
	WaitMinutes    int
	LockedToThread bool
	// Bubble is the synctest group (Go 1.24, 1.25) or bubble (Go 1.26+) id, or 0.
	Bubble int64
	// Labels are the pprof labels the header shows (Go 1.26+ with
	// GODEBUG=tracebacklabels=1, the default from Go 1.27). Nil when none are shown.
	Labels map[string]string
	// Frames are the stack, innermost first.
	Frames []Frame
	// StackUnavailable is set for a goroutine running on another thread, whose stack
	// the runtime could not print.
	StackUnavailable bool
	// Truncated is set when the runtime cut off the outermost frames
	// ("...additional frames elided..."), so the start function is not shown.
	Truncated bool
	// CreatedBy is the go statement that created the goroutine: the function the
	// runtime names (the physical function, never an inlined one, generic type
	// arguments printed as "[...]") and the file:line of the statement. Nil for the main
	// goroutine and for goroutines whose creator the runtime hides.
	CreatedBy *Frame
	// ParentID is the goroutine that ran the go statement (Go 1.21+), or 0.
	ParentID int64
}

// Frame is one function line of a traceback and the file:line under it.
type Frame struct {
	Func string
	File string
	Line int
	// Inlined is set for a frame printed with "(...)" arguments: a call the compiler
	// inlined into the frame below it.
	Inlined bool
}

// StartFunc is the outermost frame's function: the function the goroutine started in,
// as the traceback shows it (wrapper functions are hidden by the runtime). It is empty
// when the traceback does not show the outermost frame.
func (g *Goroutine) StartFunc() string {
	if g.Truncated || len(g.Frames) == 0 {
		return ""
	}
	return g.Frames[len(g.Frames)-1].Func
}

// PrintName is name as the runtime prints it: the type arguments of a generic function
// or method are replaced by "[...]" (runtime.funcNamePiecesForPrint).
func PrintName(name string) string {
	i := strings.IndexByte(name, '[')
	j := strings.LastIndexByte(name, ']')
	if i < 0 || j <= i {
		return name
	}
	return name[:i] + "[...]" + name[j+1:]
}

var (
	// goroutine 17 [chan receive, 3 minutes, locked to thread]:
	// goroutine 17 gp=0xc000007c00 m=nil [running]:           (Go 1.22+, crash or GOTRACEBACK=system)
	// goroutine 17 [chan receive labels:{"k": "v"}]:           (Go 1.26)
	// goroutine 17 [chan receive] {k: v}:                      (Go 1.27+)
	headerRE = regexp.MustCompile(`^goroutine (\d+)(?: gp=0x[0-9a-f]+ m=(?:nil|\d+ mp=0x[0-9a-f]+))? \[(.*?)\](?: \{(.*)\})?:$`)
	// created by main.main in goroutine 1   (Go 1.21+; "created by main.main" before)
	createdRE = regexp.MustCompile(`^created by (.+?)(?: in goroutine (\d+))?$`)
	// \t/src/app/main.go:42 +0x1d fp=0xc000 sp=0xc000 pc=0x4a1b2c
	fileLineRE  = regexp.MustCompile(`^\t(.+):(\d+)((?: (?:\+0x|fp=0x|sp=0x|pc=0x)[0-9a-f]+)*)$`)
	ancestorRE  = regexp.MustCompile(`^\[originating from goroutine \d+\]:$`)
	elidedRE    = regexp.MustCompile(`^\.\.\.\d+ frames elided\.\.\.$`)
	nonGoRE     = regexp.MustCompile(`^non-Go function at pc=0x[0-9a-f]+$`)
	minutesRE   = regexp.MustCompile(`^(\d+) minutes$`)
	synctestRE  = regexp.MustCompile(`^synctest (?:group|bubble) (\d+)$`)
	unavailable = "\tgoroutine running on other thread; stack unavailable"
)

// maxLine caps one traceback line; the runtime's are far shorter.
const maxLine = 1 << 20

// Parse reads every goroutine block of a traceback text.
func Parse(r io.Reader) ([]Goroutine, error) {
	p := parser{sc: bufio.NewScanner(r)}
	p.sc.Buffer(nil, maxLine)
	return p.parse()
}

// ParseBytes is Parse on a byte slice.
func ParseBytes(b []byte) ([]Goroutine, error) { return Parse(bytes.NewReader(b)) }

type parser struct {
	sc   *bufio.Scanner
	line int
	// peeked is a line read ahead and not yet consumed.
	peeked  string
	hasPeek bool
}

func (p *parser) next() (string, bool) {
	if p.hasPeek {
		p.hasPeek = false
		return p.peeked, true
	}
	if !p.sc.Scan() {
		return "", false
	}
	p.line++
	return p.sc.Text(), true
}

func (p *parser) unread(s string) { p.peeked, p.hasPeek = s, true }

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("traceback line %d: %s", p.line, fmt.Sprintf(format, args...))
}

func (p *parser) parse() ([]Goroutine, error) {
	var gs []Goroutine
	for {
		s, ok := p.next()
		if !ok {
			break
		}
		switch {
		case s == "":
		case ancestorRE.MatchString(s):
			// GODEBUG=tracebackancestors: frames of a goroutine that no longer exists.
			if err := p.skipBlock(); err != nil {
				return nil, err
			}
		case strings.HasPrefix(s, "goroutine "):
			g, err := p.goroutine(s)
			if err != nil {
				return nil, err
			}
			gs = append(gs, g)
		default:
			return nil, p.errorf("want a goroutine header, got %q", s)
		}
	}
	if err := p.sc.Err(); err != nil {
		return nil, fmt.Errorf("read traceback: %w", err)
	}
	return gs, nil
}

func (p *parser) skipBlock() error {
	for {
		s, ok := p.next()
		if !ok || s == "" {
			return nil
		}
		if strings.HasPrefix(s, "goroutine ") {
			p.unread(s)
			return nil
		}
	}
}

func (p *parser) goroutine(header string) (Goroutine, error) {
	g, err := parseHeader(header)
	if err != nil {
		return g, p.errorf("%v", err)
	}
	for {
		s, ok := p.next()
		if !ok || s == "" {
			return g, nil
		}
		if strings.HasPrefix(s, "goroutine ") || ancestorRE.MatchString(s) {
			p.unread(s)
			return g, nil
		}
		if g.CreatedBy != nil {
			return g, p.errorf("goroutine %d: %q after its created-by line", g.ID, s)
		}
		switch {
		case s == unavailable:
			g.StackUnavailable = true
		case s == "...additional frames elided...":
			g.Truncated = true
		case elidedRE.MatchString(s):
			// The middle of a deep stack; the outermost frames follow.
		case nonGoRE.MatchString(s):
			g.Frames = append(g.Frames, Frame{Func: s})
		case strings.HasPrefix(s, "created by "):
			m := createdRE.FindStringSubmatch(s)
			f, err := p.fileLine()
			if err != nil {
				return g, err
			}
			f.Func = m[1]
			g.CreatedBy = &f
			if m[2] != "" {
				if g.ParentID, err = strconv.ParseInt(m[2], 10, 64); err != nil {
					return g, p.errorf("goroutine %d: parent id: %v", g.ID, err)
				}
			}
		case strings.HasPrefix(s, "\t"):
			return g, p.errorf("goroutine %d: file line %q without a function line", g.ID, s)
		default:
			f, err := p.fileLine()
			if err != nil {
				return g, err
			}
			f.Func, f.Inlined = splitCall(s)
			g.Frames = append(g.Frames, f)
		}
	}
}

// fileLine reads the "\tFILE:LINE +0xOFF" line under a function line.
func (p *parser) fileLine() (Frame, error) {
	s, ok := p.next()
	if !ok {
		return Frame{}, p.errorf("traceback ends before a file:line")
	}
	m := fileLineRE.FindStringSubmatch(s)
	if m == nil {
		return Frame{}, p.errorf("want a tab and FILE:LINE, got %q", s)
	}
	line, err := strconv.Atoi(m[2])
	if err != nil {
		return Frame{}, p.errorf("line number in %q: %v", s, err)
	}
	return Frame{File: m[1], Line: line}, nil
}

// splitCall takes the argument list off "pkg.F(0x1, {0x2, 0x3})" ("(...)" for an
// inlined call). Arguments never hold parentheses, function names may ("(*T).M").
func splitCall(s string) (name string, inlined bool) {
	if !strings.HasSuffix(s, ")") {
		return s, false // a cgo symbolizer's frame: the name alone
	}
	i := strings.LastIndexByte(s, '(')
	if i <= 0 {
		return s, false
	}
	return s[:i], s[i:] == "(...)"
}

func parseHeader(s string) (Goroutine, error) {
	var g Goroutine
	m := headerRE.FindStringSubmatch(s)
	if m == nil {
		return g, fmt.Errorf("malformed goroutine header %q", s)
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return g, fmt.Errorf("goroutine id in %q: %v", s, err)
	}
	g.ID = id
	state, labels := m[2], m[3]
	hasLabels := m[3] != ""
	if i := strings.Index(state, " labels:{"); i >= 0 && strings.HasSuffix(state, "}") {
		if hasLabels {
			return g, fmt.Errorf("goroutine %d: labels twice in %q", id, s)
		}
		state, labels, hasLabels = state[:i], state[i+len(" labels:{"):len(state)-1], true
	}
	if hasLabels {
		if g.Labels, err = parseLabels(labels); err != nil {
			return g, fmt.Errorf("goroutine %d: labels in %q: %v", id, s, err)
		}
	}
	parts := strings.Split(state, ", ")
	g.Status = parts[0]
	for {
		switch {
		case strings.HasSuffix(g.Status, " (scan)"):
			g.Scan = true
			g.Status = strings.TrimSuffix(g.Status, " (scan)")
			continue
		case strings.HasSuffix(g.Status, " (leaked)"):
			g.Leaked = true
			g.Status = strings.TrimSuffix(g.Status, " (leaked)")
			continue
		}
		break
	}
	if g.Status == "" {
		return g, fmt.Errorf("goroutine %d: empty status in %q", id, s)
	}
	for _, part := range parts[1:] {
		if mm := minutesRE.FindStringSubmatch(part); mm != nil {
			if g.WaitMinutes, err = strconv.Atoi(mm[1]); err != nil {
				return g, fmt.Errorf("goroutine %d: minutes in %q: %v", id, s, err)
			}
			continue
		}
		if mm := synctestRE.FindStringSubmatch(part); mm != nil {
			if g.Bubble, err = strconv.ParseInt(mm[1], 10, 64); err != nil {
				return g, fmt.Errorf("goroutine %d: synctest id in %q: %v", id, s, err)
			}
			continue
		}
		if part == "locked to thread" {
			g.LockedToThread = true
			continue
		}
		return g, fmt.Errorf("goroutine %d: unknown header field %q in %q", id, part, s)
	}
	return g, nil
}

// parseLabels reads `"k": "v", "k2": "v2"` (Go 1.26, always quoted) or
// `k: v, k2: "v 2"` (Go 1.27+, quoted only when needed).
func parseLabels(s string) (map[string]string, error) {
	labels := map[string]string{}
	for s != "" {
		k, rest, err := labelToken(s)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(rest, ": ") && rest != ":" {
			return nil, fmt.Errorf("want \": \" after key %q, got %q", k, rest)
		}
		rest = strings.TrimPrefix(strings.TrimPrefix(rest, ":"), " ")
		v, rest, err := labelToken(rest)
		if err != nil {
			return nil, err
		}
		labels[k] = v
		switch {
		case rest == "":
		case strings.HasPrefix(rest, ", "):
			rest = rest[2:]
			if rest == "" {
				return nil, fmt.Errorf("trailing comma")
			}
		default:
			return nil, fmt.Errorf("want \", \" after %q: %q, got %q", k, v, rest)
		}
		s = rest
	}
	return labels, nil
}

// labelToken reads a quoted string, or an unquoted run of the characters the runtime
// leaves unquoted, which may be empty.
func labelToken(s string) (tok, rest string, err error) {
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", "", fmt.Errorf("bad quoted string in %q: %v", s, err)
		}
		tok, err := strconv.Unquote(q)
		if err != nil {
			return "", "", fmt.Errorf("bad quoted string %s: %v", q, err)
		}
		return tok, s[len(q):], nil
	}
	i := strings.IndexFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '/' || r == '_')
	})
	if i < 0 {
		i = len(s)
	}
	return s[:i], s[i:], nil
}
