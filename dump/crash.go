package dump

import (
	"bytes"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// Bounds of a crash message: a panic value may be any text.
const (
	maxCrashLines = 16
	maxCrashBytes = 4 << 10
)

// crashMarks begin the message of a crash, after any log prefix.
var crashMarks = [][]byte{[]byte("panic: "), []byte("fatal error: ")}

// crashState finds the message of the first crash in a traceback: the lines from
// "panic: " or "fatal error: " to the first blank line, kept once a goroutine header
// follows them (its goroutine is the one that crashed).
type crashState struct {
	msg        []byte
	prefix     []byte
	lines      int
	collecting bool
	done       bool
	crash      *snapshot.Crash
}

// line sees a line outside any goroutine.
func (c *crashState) line(line []byte) {
	if c.done {
		return
	}
	if c.collecting {
		line = stripPrefix(line, c.prefix)
		if len(bytes.TrimSpace(line)) == 0 || c.lines >= maxCrashLines {
			c.collecting = false
			return
		}
		c.add(line)
		return
	}
	for _, m := range crashMarks {
		if i := bytes.Index(line, m); i >= 0 && (i == 0 || line[i-1] == ' ' || line[i-1] == ':') {
			c.msg, c.lines, c.collecting = c.msg[:0], 0, true
			c.prefix = append(c.prefix[:0], line[:i]...)
			c.add(line[i:])
			return
		}
	}
}

func (c *crashState) add(line []byte) {
	if c.lines > 0 {
		c.msg = append(c.msg, '\n')
	}
	c.lines++
	if room := maxCrashBytes - len(c.msg); len(line) > room {
		line = append(line[:max(room, 0):max(room, 0)], "…"...)
		c.lines = maxCrashLines
	}
	c.msg = append(c.msg, line...)
}

// header sees a goroutine header: the first after a crash message is the goroutine
// that crashed.
func (c *crashState) header(id int64) {
	if c.done || len(c.msg) == 0 || id == 0 {
		return
	}
	c.done, c.collecting = true, false
	c.crash = &snapshot.Crash{Message: string(c.msg), Goroutine: id}
}
