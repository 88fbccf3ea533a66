package dump

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// Text formats a Reader recognises.
const (
	FormatTraceback = "traceback" // debug=2, panic, SIGQUIT, runtime.Stack(buf, true)
	FormatDebug1    = "debug=1"   // the aggregated goroutine profile text
)

// Limits that keep memory bounded whatever the input.
const (
	// maxFrames bounds one goroutine's frames; the runtime prints at most 100.
	maxFrames = 1024
	// maxExpanded bounds the goroutines made from the counts of a debug=1 profile;
	// maxUncounted does when the profile's "total" line is missing.
	maxExpanded  = 1 << 20
	maxUncounted = 1 << 16
)

// Debug1Warning is the warning of every snapshot read from a debug=1 profile.
const Debug1Warning = "a debug=1 goroutine profile aggregates goroutines by stack: it has no goroutine ids, states, " +
	"wait times or creation sites, so goroutines are grouped by their bottom (start) frame, not by the go statement " +
	"that created them; fetch debug=2 for those"

// Reader reads a text goroutine dump one goroutine at a time, with memory bounded by
// the largest goroutine, not by the input: a traceback (debug=2, a panic, SIGQUIT,
// GOTRACEBACK=all|system|crash, runtime.Stack) or a debug=1 profile. It finds the dump
// inside other text (a log file, test output), takes off a log prefix in front of the
// goroutine header, and skips what it does not understand.
type Reader struct {
	l        *lines
	in       interner
	format   string
	expanded int
	capped   bool
	total    int // the debug=1 profile's own count, or 0
	warns    []string
	// The debug=1 record being expanded: its goroutine and how many copies are left.
	rep     snapshot.Goroutine
	repLeft int
	// pendingBuf holds a line waiting for its file:line.
	pendingBuf []byte
	// scratch collects a goroutine's frames.
	scratch []snapshot.Location
	crash   crashState
}

// Crash is the panic or fatal error the traceback read so far shows, or nil.
func (r *Reader) Crash() *snapshot.Crash { return r.crash.crash }

// NewReader returns a Reader of the dump in r.
func NewReader(r io.Reader) *Reader {
	return &Reader{l: newLines(r)}
}

// Format is FormatTraceback or FormatDebug1 once a goroutine was read, else "".
func (r *Reader) Format() string { return r.format }

// Next returns the next goroutine; at the end of the input io.EOF, or the read error
// that ended it. The goroutines of one debug=1 record share their Frames and Labels. An
// id may come twice: a GOTRACEBACK=crash dump shows a goroutine running on another
// thread first without its stack, then again with it (Parse keeps the second).
func (r *Reader) Next() (snapshot.Goroutine, error) {
	if r.repLeft > 0 {
		r.repLeft--
		return r.rep, nil
	}
	for {
		line, ok := r.l.next()
		if !ok {
			if err := r.l.readErr(); err != nil {
				return snapshot.Goroutine{}, err
			}
			return snapshot.Goroutine{}, io.EOF
		}
		if h, at, ok := findHeader(line, &r.in); ok {
			r.crash.header(h.id)
			prefix := bytes.Clone(line[:at])
			g, complete := r.block(h, prefix)
			if h.id == 0 {
				continue // a thread's own stack (g0, gsignal) in a crash: not a goroutine
			}
			if !complete {
				r.warn(fmt.Sprintf("the dump ends inside goroutine %d: its stack is incomplete", h.id))
			}
			r.format = FormatTraceback
			return g, nil
		}
		r.crash.line(line)
		if rest, ok := bytes.CutPrefix(line, []byte("goroutine profile: total ")); ok {
			if n, err := strconv.Atoi(string(rest)); err == nil && n > 0 {
				r.total = n
			}
			continue
		}
		if count, ok := debug1Record(line); ok && r.format != FormatTraceback {
			if r.format == "" {
				r.format = FormatDebug1
				r.warn(Debug1Warning)
			}
			g := r.record()
			limit := maxUncounted
			if r.total > 0 {
				limit = min(maxExpanded, r.total)
			}
			if count > limit-r.expanded {
				count = limit - r.expanded
				if !r.capped {
					r.capped = true
					r.warn(fmt.Sprintf("the debug=1 records count more than %d goroutines (the profile's total, or gorigin's limit): only that many were kept", limit))
				}
			}
			if count <= 0 {
				continue
			}
			r.expanded += count
			r.rep, r.repLeft = g, count-1
			return g, nil
		}
	}
}

// Warnings are what the caller should tell the user about the dump read so far.
func (r *Reader) Warnings() []string {
	w := append([]string(nil), r.warns...)
	if r.l.cut > 0 {
		w = append(w, fmt.Sprintf("%d lines longer than %d bytes were cut", r.l.cut, maxLine))
	}
	return w
}

func (r *Reader) warn(s string) {
	if len(r.warns) < 20 {
		r.warns = append(r.warns, s)
	}
}

// block reads the lines of one goroutine after its header. complete is false when the
// input ended in the middle of a frame.
func (r *Reader) block(h header, prefix []byte) (g snapshot.Goroutine, complete bool) {
	g.ID = h.id
	status, reason := h.status()
	g.Status, g.WaitReason = snapshot.Status(status), reason
	if h.minutes > 0 && (g.Status == snapshot.StatusWaiting || g.Status == snapshot.StatusSyscall) {
		g.WaitSeconds = float64(h.minutes) * 60
	}
	g.LockedToThread = h.locked
	if len(h.labels) > 0 {
		g.Labels = h.labels
	}
	if h.labelsBad {
		r.warn(fmt.Sprintf("goroutine %d: labels not read in full", h.id))
	}
	var (
		frames    = r.scratch[:0] // copied out at the end: one allocation per goroutine
		truncated bool
		wrappers  bool
		pending   []byte // a function's name, or a "created by" line's rest, waiting for its file:line
		isPending bool
		created   bool // pending is a "created by" line's
		inlined   bool // pending is an inlined call's name
		decided   = len(prefix) == 0
		strip     bool
		hexdump   bool // after the unwinder's complaint: its stack dump, up to "created by"
		prev      = r.in.lastStack()
	)
	defer func() { r.scratch = frames[:0] }()
	complete = true
	for {
		line, ok := r.l.next()
		if !ok {
			complete = !isPending
			break
		}
		if len(line) > 0 && line[0] != '\t' { // a file line is never a header
			if _, _, ok := findHeader(line, &r.in); ok {
				r.l.unread(line)
				break
			}
		}
		if !decided {
			decided, strip = true, !plausibleLine(line)
		}
		if strip {
			line = stripPrefix(line, prefix)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		if hexdump {
			if !bytes.HasPrefix(line, []byte("created by ")) {
				continue
			}
			hexdump = false
		}
		if isPending {
			isPending = false
			file, n, fp, ok := fileLine(line)
			if !ok {
				complete = !r.l.partial
				break // noise after the dump, or a cut file line
			}
			wrappers = wrappers || fp
			if created {
				fn, parent := createdBy(pending)
				loc := snapshot.Location{Func: r.in.str(fn), File: r.in.str(file), Line: n}
				g.Origin, g.ParentID = r.in.loc(loc), parent
			} else if len(frames) < maxFrames {
				fn := pending
				loc := snapshot.Location{Line: n, Inlined: inlined}
				// Most goroutines repeat the stack of one before: compare the names with
				// its frame at the same depth before looking them up.
				if i := len(frames); i < len(prev) && string(fn) == prev[i].Func && string(file) == prev[i].File {
					loc.Func, loc.File = prev[i].Func, prev[i].File
				} else {
					loc.Func, loc.File = r.in.str(fn), r.in.str(file)
				}
				frames = append(frames, loc)
			}
			continue
		}
		switch {
		case line[0] == '\t' || line[0] == ' ':
			// "goroutine running on other thread; stack unavailable", or a stray line.
		case bytes.Equal(line, []byte("...additional frames elided...")):
			truncated = true
		case bytes.HasPrefix(line, []byte("runtime: g ")) && bytes.Contains(line, []byte(": unexpected return pc for ")):
			// The unwinder gave up ("stack: frame={...}" and a hex dump follow): the
			// goroutine's outer frames, and so its start, are not in the dump.
			truncated, hexdump = true, true
		case bytes.HasPrefix(line, []byte("...")) && bytes.HasSuffix(line, []byte("frames elided...")):
			// The middle of a deep stack; the outermost frames follow.
		case bytes.HasPrefix(line, []byte("[originating from goroutine ")):
			r.skipAncestors()
			return finish(&r.in, g, frames, truncated, wrappers), true
		case bytes.HasPrefix(line, []byte("non-Go function at pc=")):
			if len(frames) < maxFrames {
				frames = append(frames, snapshot.Location{Func: r.in.str(line)})
			}
		case bytes.HasPrefix(line, []byte("created by ")):
			pending = append(r.pendingBuf[:0], line[len("created by "):]...)
			r.pendingBuf, isPending, created = pending, true, true
		case funcLine(line):
			// Split now: only the name is kept until the file line comes.
			var fn []byte
			fn, inlined = splitCall(line)
			pending = append(r.pendingBuf[:0], fn...)
			r.pendingBuf, isPending, created = pending, true, false
		default:
			// Noise after the dump, or a function line cut short by the end of the input.
			cut := r.l.partial && bytes.IndexByte(line, '(') > 0
			return finish(&r.in, g, frames, truncated, wrappers), !cut
		}
	}
	return finish(&r.in, g, frames, truncated, wrappers), complete
}

// finish sets what follows from the frames: the start function is the bottom frame
// (runtime.goexit, the bottom of every goroutine, is left out as a live read does).
// wrappers says the traceback shows compiler-made wrappers (GOTRACEBACK=system or
// crash, whose frames carry fp= sp= pc=).
func finish(in *interner, g snapshot.Goroutine, frames []snapshot.Location, truncated, wrappers bool) snapshot.Goroutine {
	if n := len(frames); n > 0 && frames[n-1].Func == "runtime.goexit" {
		frames = frames[:n-1]
	} else if wrappers && n > 0 && g.ID != 0 {
		// A system-level traceback ends every goroutine in runtime.goexit. Without it the
		// unwinding stopped early: a goroutine caught by the crash signal in the middle of
		// time.now's switch to the thread's stack shows that one frame and no more.
		truncated = true
	}
	// A crash traceback shows the wrapper the compiler made for a go statement with
	// arguments (F.gowrapN, Go 1.21+); the goroutine starts in the function it wraps,
	// as other tracebacks and a live read show it.
	for n := len(frames); n > 1 && isGoWrapper(frames[n-1].Func); n-- {
		frames = frames[:n-1]
	}
	// Go 1.20 names that wrapper like a closure, F.funcN (F.N inside a closure); it sits
	// at the go statement: on its first line, or, when the go statement starts a function
	// literal, on the line of the literal's call, below the literal's body (where the
	// frame above it, the literal itself, stands).
	if n := len(frames); wrappers && n > 1 && g.Origin != nil {
		b, inner := frames[n-1], frames[n-2]
		atStatement := b.Line == g.Origin.Line ||
			inner.File == b.File && isClosureOf(inner.Func, g.Origin.Func) && g.Origin.Line <= inner.Line && inner.Line <= b.Line
		if b.File == g.Origin.File && atStatement && isClosureOf(b.Func, g.Origin.Func) {
			frames = frames[:n-1]
		}
	}
	// The traceback shows other wrappers the runtime's own hides: a method value's
	// (T.M-fm) and the pointer-receiver wrapper of a value method that an interface call
	// goes through ((*T).M at <autogenerated>).
	for n := len(frames); wrappers && n > 1 && (frames[n-1].File == "<autogenerated>" || strings.HasSuffix(frames[n-1].Func, "-fm")); n-- {
		frames = frames[:n-1]
	}
	if len(frames) > 0 {
		g.Frames = in.frames(frames)
	}
	if n := len(frames); n > 0 && !truncated && !strings.HasPrefix(frames[n-1].Func, "non-Go function") {
		b := frames[n-1]
		g.Start = in.loc(snapshot.Location{Func: b.Func, File: b.File})
		if g.ID == 1 && b.Func == "main.main" {
			// The main goroutine starts in runtime.main, which tracebacks hide unless
			// GOTRACEBACK=system: say what a live read says.
			g.Start = in.loc(snapshot.Location{Func: "runtime.main"})
		}
		g.System = isSystem(b.Func)
	}
	return g
}

// skipAncestors skips the frames GODEBUG=tracebackancestors prints for goroutines that
// no longer exist, up to the next goroutine.
func (r *Reader) skipAncestors() {
	for {
		line, ok := r.l.next()
		if !ok {
			return
		}
		if _, _, ok := findHeader(line, &r.in); ok {
			r.l.unread(line)
			return
		}
	}
}

// record reads a debug=1 record after its "N @ 0x…" line:
//
//	# labels: {"k":"v"}
//	#	0x6786b6	main.blockRecv+0x36	/src/spawn.go:133
func (r *Reader) record() snapshot.Goroutine {
	g := snapshot.Goroutine{Status: "unknown"}
	var frames []snapshot.Location
	for {
		line, ok := r.l.next()
		if !ok {
			break
		}
		if rest, ok := bytes.CutPrefix(line, []byte("# labels: {")); ok {
			if rest, ok := bytes.CutSuffix(rest, []byte("}")); ok {
				labels, bad := r.in.parseLabels(rest)
				if len(labels) > 0 {
					g.Labels = labels
				}
				if bad {
					r.warn("a debug=1 record's labels were not read in full")
				}
			}
			continue
		}
		rest, ok := bytes.CutPrefix(line, []byte("#\t"))
		if !ok {
			if len(bytes.TrimSpace(line)) > 0 {
				r.l.unread(line)
			}
			break
		}
		fields := bytes.FieldsFunc(rest, func(c rune) bool { return c == '\t' })
		if len(fields) < 3 || len(frames) >= maxFrames {
			continue
		}
		fn := fields[1]
		if i := bytes.LastIndex(fn, []byte("+0x")); i > 0 {
			fn = fn[:i]
		}
		file, n, _, ok := fileLine(append([]byte{'\t'}, bytes.Join(fields[2:], []byte{'\t'})...))
		if !ok {
			continue
		}
		frames = append(frames, snapshot.Location{Func: r.in.str(fn), File: r.in.str(file), Line: n})
	}
	return finish(&r.in, g, frames, false, false)
}

// debug1Record reads the "COUNT @ 0xPC 0xPC…" line that opens a debug=1 record.
func debug1Record(line []byte) (int, bool) {
	i := bytes.Index(line, []byte(" @ 0x"))
	if i <= 0 || i > 19 {
		return 0, false
	}
	n, err := strconv.Atoi(string(line[:i]))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// plausibleLine says whether line, as it stands, can be the line after a goroutine
// header; if it cannot, the header's log prefix is on it too.
func plausibleLine(line []byte) bool {
	return len(line) == 0 || line[0] == '\t' ||
		bytes.HasPrefix(line, []byte("created by ")) || bytes.HasPrefix(line, []byte("...")) ||
		bytes.HasPrefix(line, []byte("non-Go function")) || bytes.HasPrefix(line, []byte("[originating")) ||
		funcLine(line)
}

// stripPrefix takes a log prefix off line: the header's own prefix, or as many bytes
// (a timestamp that changed).
func stripPrefix(line, prefix []byte) []byte {
	if rest, ok := bytes.CutPrefix(line, prefix); ok {
		return rest
	}
	if len(line) >= len(prefix) {
		return line[len(prefix):]
	}
	return nil
}

// funcLine says whether line can be a function line: "pkg.F(args)", "pkg.(*T).M(...)",
// or a bare symbol name from a cgo symbolizer. Names hold no spaces.
func funcLine(line []byte) bool {
	if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
		return false
	}
	i := bytes.LastIndexByte(line, '(')
	if i < 0 || !bytes.HasSuffix(line, []byte(")")) {
		return bytes.IndexByte(line, ' ') < 0
	}
	return i > 0 && bytes.IndexByte(line[:i], ' ') < 0
}

// splitCall takes the argument list off "pkg.F(0x1, {0x2})"; "(...)" marks an inlined
// call. Arguments hold no parentheses; names may ("(*T).M").
func splitCall(line []byte) (name []byte, inlined bool) {
	if !bytes.HasSuffix(line, []byte(")")) {
		return line, false
	}
	i := bytes.LastIndexByte(line, '(')
	if i <= 0 {
		return line, false
	}
	return line[:i], string(line[i:]) == "(...)"
}

// createdBy reads "F in goroutine N" (Go 1.21+) or "F".
func createdBy(s []byte) (fn []byte, parent int64) {
	i := len(s) // read from the end: the digits, then the words
	for i > 0 && '0' <= s[i-1] && s[i-1] <= '9' {
		i--
	}
	if rest, ok := bytes.CutSuffix(s[:i], []byte(" in goroutine ")); ok && len(rest) > 0 {
		if n, ok := atoi(s[i:]); ok && n > 0 {
			return rest, n
		}
	}
	return s, 0
}

// fileLine reads "\tFILE:LINE", with the " +0x1d" and " fp=… sp=… pc=…" that may follow;
// fp says the latter were there (GOTRACEBACK=system or crash).
func fileLine(line []byte) (file []byte, n int, fp, ok bool) {
	if len(line) < 2 || line[0] != '\t' {
		return nil, 0, false, false
	}
	s := line[1:]
	// The suffixes are taken off from the end, one space-separated token at a time. The
	// searches back for a space stop at the first one, found beforehand by IndexByte, which
	// reads many bytes at a time (LastIndexByte reads one): most paths hold no space.
	first := bytes.IndexByte(s, ' ')
	for first >= 0 && first < len(s) {
		i := first + bytes.LastIndexByte(s[first:], ' ')
		tok := s[i+1:]
		if bytes.HasPrefix(tok, []byte("fp=")) {
			fp = true
		} else if !bytes.HasPrefix(tok, []byte("+0x")) && !bytes.HasPrefix(tok, []byte("sp=")) && !bytes.HasPrefix(tok, []byte("pc=")) {
			break
		}
		s = s[:i]
	}
	j := bytes.LastIndexByte(s, ':')
	if j <= 0 || j == len(s)-1 || len(s)-j > 11 {
		return nil, 0, false, false
	}
	v, isNum := atoi(s[j+1:])
	if !isNum {
		return nil, 0, false, false
	}
	return s[:j], int(v), fp, true
}

// isSystem is the runtime's rule (runtime.isSystemGoroutine) applied to the start
// function: a goroutine that started in package runtime is a system goroutine, except
// runtime.main and the goroutines that run user code.
func isSystem(start string) bool {
	switch start {
	case "runtime.main", "runtime.corostart", "runtime.handleAsyncEvent":
		return false
	}
	return strings.HasPrefix(start, "runtime.")
}

// isGoWrapper says whether fn is a go statement's wrapper: "pkg.F.gowrap1".
// It reads from the end (the digits, then the word): called for every goroutine, a
// search for ".gowrap" through the whole name was a tenth of the parse.
func isGoWrapper(fn string) bool {
	i := len(fn)
	for i > 0 && '0' <= fn[i-1] && fn[i-1] <= '9' {
		i--
	}
	return i < len(fn) && strings.HasSuffix(fn[:i], ".gowrap")
}

// isClosureOf says whether fn is named as a closure of outer: "outer.funcN" or "outer.N".
func isClosureOf(fn, outer string) bool {
	rest, ok := strings.CutPrefix(fn, outer+".")
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(rest, "func")
	if rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
