package mi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kinds of MI output records: the first character of the record after its token.
const (
	KindResult  = '^' // ^done, ^running, ^connected, ^error, ^exit: the answer to a command
	KindExec    = '*' // *running, *stopped: execution state changed
	KindStatus  = '+' // progress of a slow operation
	KindNotify  = '=' // =thread-created, =library-loaded, ...
	KindConsole = '~' // text GDB's console would print
	KindTarget  = '@' // the target's own output
	KindLog     = '&' // GDB's log and warning messages
	KindPrompt  = '(' // the "(gdb)" line that ends a batch of output
)

// Record is one line of MI output.
type Record struct {
	Token   int64  // the command's token, or -1 when the record has none
	Kind    byte   // one of the Kind constants
	Class   string // "done", "stopped", "thread-created", ...; empty for stream records
	Results Tuple  // the record's results; empty for stream records
	Text    string // a stream record's text, unescaped
}

// Value is an MI value: a string, a Tuple or a List.
type Value any

// Result is one name=value pair.
type Result struct {
	Name  string
	Value Value
}

// Tuple is {name=value,...}, and the results of a record. Names may repeat.
type Tuple []Result

// List is [value,...] or [name=value,...]; the elements of a list of results are
// one-element Tuples.
type List []Value

// Get returns the first value named name, or nil.
func (t Tuple) Get(name string) Value {
	for _, r := range t {
		if r.Name == name {
			return r.Value
		}
	}
	return nil
}

// String returns the string named name, or "".
func (t Tuple) String(name string) string {
	s, _ := t.Get(name).(string)
	return s
}

// Tuple returns the tuple named name, or nil.
func (t Tuple) Tuple(name string) Tuple {
	v, _ := t.Get(name).(Tuple)
	return v
}

// List returns the list named name, or nil.
func (t Tuple) List(name string) List {
	v, _ := t.Get(name).(List)
	return v
}

// maxDepth bounds the nesting of tuples and lists, so hostile input cannot exhaust the stack.
const maxDepth = 64

// maxValues bounds the values of one record. GDB's longest answers (-thread-info of ten
// thousand threads, a memory read) hold a few hundred thousand; a line of MaxLine bytes
// of "{}," would otherwise decode to 20 million values and a gigabyte.
const maxValues = 1 << 20

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("not a GDB/MI output record")

// Parse parses one line of MI output (without its line ending). A line that is not an MI
// record — GDB and the target sometimes print raw text — is an error wrapping ErrSyntax.
func Parse(line string) (Record, error) {
	line = strings.TrimSuffix(line, "\r")
	if strings.HasPrefix(line, "(gdb)") && strings.TrimSpace(line[5:]) == "" {
		return Record{Token: -1, Kind: KindPrompt}, nil
	}
	p := parser{s: line}
	rec := Record{Token: -1}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i > start {
		tok, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil {
			return Record{}, p.errorf("token %q out of range", p.s[start:p.i])
		}
		rec.Token = tok
	}
	if p.i >= len(p.s) {
		return Record{}, p.errorf("no record kind")
	}
	rec.Kind = p.s[p.i]
	p.i++
	switch rec.Kind {
	case KindConsole, KindTarget, KindLog:
		if rec.Token >= 0 {
			return Record{}, p.errorf("stream record with a token")
		}
		text, err := p.cstring()
		if err != nil {
			return Record{}, err
		}
		if p.i != len(p.s) {
			return Record{}, p.errorf("text after the stream record")
		}
		rec.Text = text
		return rec, nil
	case KindResult, KindExec, KindStatus, KindNotify:
	default:
		return Record{}, p.errorf("unknown record kind %q", rec.Kind)
	}
	rec.Class = p.name()
	if rec.Class == "" {
		return Record{}, p.errorf("no result class")
	}
	for p.i < len(p.s) {
		if p.s[p.i] != ',' {
			return Record{}, p.errorf("want ',' after the results")
		}
		p.i++
		r, err := p.result(0)
		if err != nil {
			return Record{}, err
		}
		rec.Results = append(rec.Results, r)
	}
	return rec, nil
}

type parser struct {
	s      string
	i      int
	values int // values read so far, up to maxValues
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at byte %d of %.80q", ErrSyntax, fmt.Sprintf(format, args...), p.i, p.s)
}

// name reads a variable or class name: anything up to '=', ',', or a bracket.
func (p *parser) name() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '=' || c == ',' || c == '{' || c == '}' || c == '[' || c == ']' || c == '"' {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

func (p *parser) result(depth int) (Result, error) {
	name := p.name()
	if name == "" {
		return Result{}, p.errorf("want a result name")
	}
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return Result{}, p.errorf("want '=' after %q", name)
	}
	p.i++
	v, err := p.value(depth)
	return Result{name, v}, err
}

func (p *parser) value(depth int) (Value, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	if p.values++; p.values > maxValues {
		return nil, p.errorf("more than %d values in one record", maxValues)
	}
	if p.i >= len(p.s) {
		return nil, p.errorf("want a value")
	}
	switch p.s[p.i] {
	case '"':
		return p.cstring()
	case '{':
		p.i++
		t := Tuple{}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return t, nil
		}
		for {
			r, err := p.result(depth + 1)
			if err != nil {
				return nil, err
			}
			t = append(t, r)
			if p.i >= len(p.s) {
				return nil, p.errorf("unterminated tuple")
			}
			c := p.s[p.i]
			p.i++
			if c == '}' {
				return t, nil
			}
			if c != ',' {
				return nil, p.errorf("want ',' or '}' in a tuple")
			}
		}
	case '[':
		p.i++
		l := List{}
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return l, nil
		}
		for {
			var v Value
			var err error
			if p.i < len(p.s) && (p.s[p.i] == '"' || p.s[p.i] == '{' || p.s[p.i] == '[') {
				v, err = p.value(depth + 1)
			} else {
				var r Result
				r, err = p.result(depth + 1)
				v = Tuple{r}
			}
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			if p.i >= len(p.s) {
				return nil, p.errorf("unterminated list")
			}
			c := p.s[p.i]
			p.i++
			if c == ']' {
				return l, nil
			}
			if c != ',' {
				return nil, p.errorf("want ',' or ']' in a list")
			}
		}
	}
	return nil, p.errorf("want a value, got %q", p.s[p.i])
}

// cstring reads a C string: "..." with backslash escapes, as GDB writes them.
func (p *parser) cstring() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", p.errorf("want '\"'")
	}
	p.i++
	// Fast path: long hex contents of a memory read have no escapes.
	if j := strings.IndexAny(p.s[p.i:], "\"\\"); j >= 0 && p.s[p.i+j] == '"' {
		s := p.s[p.i : p.i+j]
		p.i += j + 1
		return s, nil
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if p.i >= len(p.s) {
				return "", p.errorf("unterminated escape")
			}
			e := p.s[p.i]
			p.i++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'v':
				b.WriteByte('\v')
			case 'e':
				b.WriteByte(0x1b)
			case '0', '1', '2', '3', '4', '5', '6', '7':
				// Up to three octal digits: GDB writes bytes it cannot print this way.
				n := int(e - '0')
				for k := 0; k < 2 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '7'; k++ {
					n = n*8 + int(p.s[p.i]-'0')
					p.i++
				}
				b.WriteByte(byte(n))
			default: // \" \\ \' and anything else stand for themselves
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errorf("unterminated string")
}

// quote writes s as an MI command argument: bare when it is safe, else a C string.
func Quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\r\"\\'{}[],=") && s[0] != '-' {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
