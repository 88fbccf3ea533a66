package dump

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// maxLine caps one line: the runtime's lines are far shorter, and a longer one (binary
// noise, a minified log record) is cut there so that memory stays bounded.
const maxLine = 64 << 10

// lines reads a dump line by line with bounded memory: CR LF and LF endings, overlong
// lines cut to maxLine, one line of push-back.
type lines struct {
	br      *bufio.Reader
	n       int   // lines read
	bytes   int64 // bytes read
	cut     int   // lines cut to maxLine
	err     error // the read error that ended the input (not io.EOF)
	long    []byte
	back    []byte
	hasBack bool
	// partial is set when the last line read had no line ending: the input was cut.
	partial bool
}

func newLines(r io.Reader) *lines {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < maxLine {
		br = bufio.NewReaderSize(r, maxLine)
	}
	return &lines{br: br}
}

// next returns the next line without its line ending, valid until the following call,
// and false at the end of the input.
func (l *lines) next() ([]byte, bool) {
	if l.hasBack {
		l.hasBack = false
		return l.back, true
	}
	if l.err != nil {
		return nil, false
	}
	line, err := l.br.ReadSlice('\n')
	l.bytes += int64(len(line))
	if errors.Is(err, bufio.ErrBufferFull) {
		// Keep the first maxLine bytes and skip the rest of the line.
		l.long = append(l.long[:0], line...)
		l.cut++
		for errors.Is(err, bufio.ErrBufferFull) {
			var more []byte
			more, err = l.br.ReadSlice('\n')
			l.bytes += int64(len(more))
		}
		line = l.long
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			l.err = fmt.Errorf("read dump after line %d: %w", l.n, err)
		} else {
			l.err = io.EOF
		}
		if len(line) == 0 {
			return nil, false
		}
	}
	l.n++
	l.partial = true
	if n := len(line); n > 0 && line[n-1] == '\n' {
		l.partial = false
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, true
}

// unread pushes line back: next returns it again.
func (l *lines) unread(line []byte) {
	l.back = append(l.back[:0], line...)
	l.hasBack = true
}

// readErr is the error that ended the input early, or nil.
func (l *lines) readErr() error {
	if l.err == nil || errors.Is(l.err, io.EOF) {
		return nil
	}
	return l.err
}
