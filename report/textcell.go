package report

import (
	"strconv"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// cell is one cell of the text table, printed main+sep+rest. The parts are kept apart
// because narrowing and colour treat them differently: a location's function and its
// file:line, a state and its "+3 other".
type cell struct {
	main, sep, rest  string
	style, restStyle sgr
	// path and at are a location's file (Printable) and ":line": the table writes rest
	// as the shortest suffix of path unique in the table (suffixPaths), then at.
	path, at string
}

func (c cell) String() string { return c.main + c.sep + c.rest }

// text is a cell of one part; t is made Printable.
func text(t string) cell { return cell{main: Printable(t)} }

// locCell is "func  dir/file.go:line" with the short names, narrowed as a location.
func locCell(l *snapshot.Location) cell {
	fn := Printable(shortFunc(l.Func))
	if l.File == "" {
		return cell{main: fn}
	}
	path, at := Printable(l.File), ":"+strconv.Itoa(l.Line)
	return cell{main: fn, sep: "  ", rest: shortFile(path) + at, restStyle: dim, path: path, at: at}
}

// suffixPaths writes the file of every location cell as the shortest suffix of whole path
// elements that no other file in the table shares: "main.go" beside "serve.go", but
// "api/main.go" beside "worker/main.go". One file reads the same in every row.
func suffixPaths(rows [][]cell) {
	files := map[string]string{} // path → suffix
	for _, r := range rows {
		for _, c := range r {
			if c.path != "" {
				files[c.path] = ""
			}
		}
	}
	for k, left := 1, len(files); left > 0; k++ {
		n := map[string]int{} // suffix of k elements → files that have it
		for p := range files {
			n[suffix(p, k)]++
		}
		for p, s := range files {
			if t := suffix(p, k); s == "" && (n[t] == 1 || t == p) {
				files[p] = t
				left--
			}
		}
	}
	for _, r := range rows {
		for i := range r {
			if r[i].path != "" {
				r[i].rest = files[r[i].path] + r[i].at
			}
		}
	}
}

// suffix is the last k elements of a slash-separated path (the whole path when it has
// no more).
func suffix(p string, k int) string {
	i := len(p)
	for ; k > 0; k-- {
		if i = strings.LastIndexByte(p[:i], '/'); i <= 0 {
			return p
		}
	}
	return p[i+1:]
}

// cut says how a cell is narrowed when the table must fit a width.
type cut int

const (
	noCut     cut = iota
	keepFunc      // a function name: "server.…serve.func1"
	keepLoc       // a function and file:line: "server.…serve.func1  serve.go:56"
	keepStart     // "chan receive +3 r…"
	keepWords     // "18 19 20 …": whole words from the start
)

// fitCell narrows c to n runes as cu says; a cell that fits, or may not be cut, is
// returned as it is.
func fitCell(c cell, n int, cu cut) cell {
	if runes(c.String()) <= n || cu == noCut || n < 1 {
		return c
	}
	if strings.HasPrefix(c.main, "(") { // "(no go statement)", "(no stack)": words, not names
		cu = keepStart
	}
	switch cu {
	case keepLoc:
		return fitLoc(c, n)
	case keepFunc:
		return cell{main: fitFunc(c.main, n), style: c.style}
	case keepWords:
		return cell{main: shorten(c.String(), n, keepWords), style: c.style}
	}
	if runes(c.main)+1 > n {
		return cell{main: shorten(c.String(), n, keepStart), style: c.style} // "…" says something was cut
	}
	full := []rune(c.String())
	return cell{main: c.main, rest: string(full[runes(c.main):n-1]) + "…", style: c.style, restStyle: c.restStyle}
}

// fitLoc narrows a location: its function first (in the middle, keeping its last
// elements), then the function goes and file:line stands alone, and only when even that
// does not fit does file:line lose its start. The file:line is the answer the table is
// read for: it goes last.
func fitLoc(c cell, n int) cell {
	if c.rest == "" {
		return cell{main: fitFunc(c.main, n), style: c.style}
	}
	if room := n - runes(c.sep) - runes(c.rest); room >= min(runes(c.main), minFunc) {
		return cell{main: fitFunc(c.main, room), sep: c.sep, rest: c.rest, style: c.style, restStyle: c.restStyle}
	}
	return cell{main: shorten(c.rest, n, keepLoc), style: c.restStyle}
}

// minFunc is the fewest runes a location's function is shown in ("…func1"); with less
// room the location is its file:line alone.
const minFunc = 6

// fitFunc fits a short function name into n runes: whole when it fits; else its package,
// "…" and as many of its last elements as fit ("server.…serve.func1"); else only its last
// elements ("…serve.func1"); else the end of its last element ("…c1").
func fitFunc(fn string, n int) string {
	if runes(fn) <= n || n < 1 {
		return fn
	}
	elems := elements(fn)
	for _, withPkg := range []bool{true, false} {
		head := "…"
		if withPkg {
			head = elems[0] + ".…"
		}
		for k := 1; k < len(elems); k++ {
			if t := head + strings.Join(elems[k:], "."); runes(t) <= n {
				return t
			}
		}
	}
	r := []rune(fn)
	return "…" + string(r[len(r)-n+1:])
}

// elements splits a function name at its dots, except those inside brackets or
// parentheses: "p.(*T[...]).M.func1" → p, (*T[...]), M, func1.
func elements(fn string) []string {
	var out []string
	depth, from := 0, 0
	for i, c := range fn {
		switch c {
		case '[', '(':
			depth++
		case ']', ')':
			depth = max(0, depth-1)
		case '.':
			if depth == 0 {
				out = append(out, fn[from:i])
				from = i + 1
			}
		}
	}
	return append(out, fn[from:])
}

// shorten cuts t to n runes with an ellipsis, keeping the end cu says.
func shorten(t string, n int, cu cut) string {
	r := []rune(t)
	if len(r) <= n || cu == noCut || n < 1 {
		return t
	}
	switch cu {
	case keepFunc, keepLoc:
		return "…" + string(r[len(r)-n+1:])
	case keepWords:
		head := string(r[:n-1])
		if i := strings.LastIndexByte(head, ' '); i > 0 {
			return head[:i+1] + "…"
		}
	}
	return string(r[:n-1]) + "…"
}
