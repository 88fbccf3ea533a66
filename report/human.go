package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// thousands formats n with ',' between groups of three digits: 2047 → "2,047".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// humanWait formats a wait in seconds as its two largest units: 45s, 14m, 3h12m,
// 2d4h; "-" when unknown (0).
func humanWait(sec float64) string {
	if sec <= 0 {
		return "-"
	}
	if sec < 1 {
		return "<1s"
	}
	s := int64(sec)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 86400:
		return twoUnits(s/3600, "h", s%3600/60, "m")
	default:
		return twoUnits(s/86400, "d", s%86400/3600, "h")
	}
}

func twoUnits(a int64, ua string, b int64, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, ua)
	}
	return fmt.Sprintf("%d%s%d%s", a, ua, b, ub)
}

// humanBytes formats a size with binary units: 512B, 88K, 15.6M, 1.2G; "-" when
// unknown (0).
func humanBytes(b int64) string {
	const k = 1024
	switch {
	case b <= 0:
		return "-"
	case b < k:
		return fmt.Sprintf("%dB", b)
	case b < k*k:
		return fmt.Sprintf("%dK", (b+k/2)/k)
	case b < k*k*k:
		return fmt.Sprintf("%.1fM", float64(b)/(k*k))
	default:
		return fmt.Sprintf("%.1fG", float64(b)/(k*k*k))
	}
}

// shortFunc drops the package path up to its last '/' and the type arguments of generic
// names: "github.com/a/b/server.(*S).run" → "server.(*S).run",
// "example.com/p.Map[example.com/q.T,int]" → "p.Map[...]" (the runtime's own spelling).
// A major-version element names no package: "github.com/caddyserver/caddy/v2.F" →
// "caddy.F", "gopkg.in/yaml.v3.(*parser).parse" (or the linker's "yaml%2ev3") → "yaml.(*parser).parse".
func shortFunc(fn string) string {
	fn = elideTypeArgs(fn)
	end := len(fn)
	if i := strings.IndexAny(fn, "[("); i >= 0 {
		end = i
	}
	i := strings.LastIndexByte(fn[:end], '/')
	if i < 0 {
		return fn
	}
	pkg, rest, ok := strings.Cut(fn[i+1:], ".")
	if !ok {
		return fn[i+1:]
	}
	if isMajor(pkg) { // ".../caddy/v2.F": the package is the element before
		j := strings.LastIndexByte(fn[:i], '/')
		return fn[j+1:i] + "." + rest
	}
	if name, v, ok := strings.Cut(pkg, "%2e"); ok && isMajor(v) { // "yaml%2ev3.F"
		return name + "." + rest
	}
	if v, after, ok := strings.Cut(rest, "."); ok && isMajor(v) && strings.HasPrefix(fn, "gopkg.in/") { // "yaml.v3.F"
		return pkg + "." + after
	}
	return fn[i+1:]
}

// isMajor reports whether a path element is a major version suffix: "v2", "v10".
func isMajor(e string) bool {
	if len(e) < 2 || e[0] != 'v' || e[1] == '0' {
		return false
	}
	for _, c := range e[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// shortFile keeps the last two elements of a path: "/src/app/cmd/api/main.go" → "api/main.go".
func shortFile(f string) string {
	i := strings.LastIndexByte(f, '/')
	if i <= 0 {
		return f
	}
	if j := strings.LastIndexByte(f[:i], '/'); j >= 0 {
		return f[j+1:]
	}
	return f
}

// shortLoc is "pkg.Func  dir/file.go:line" with the short names; "-" when unknown.
func shortLoc(l *snapshot.Location) string {
	if l == nil {
		return "-"
	}
	if l.File == "" {
		return shortFunc(l.Func)
	}
	return fmt.Sprintf("%s  %s:%d", shortFunc(l.Func), shortFile(l.File), l.Line)
}

// freezeText says how long a live target was stopped.
// warnings are the snapshot's warnings as shown: the first says "partial snapshot" when
// the snapshot is one (its first warning says why).
func warnings(s *snapshot.Snapshot) []string {
	if !s.Source.Partial {
		return s.Warnings
	}
	if len(s.Warnings) == 0 {
		return []string{"partial snapshot"}
	}
	return append([]string{"partial snapshot: " + s.Warnings[0]}, s.Warnings[1:]...)
}

func freezeText(src snapshot.Source) string {
	if src.Freeze == "never" {
		return "not frozen"
	}
	ms := float64(src.FreezeMicros) / 1000
	if src.FreezeMicros < 100 {
		return fmt.Sprintf("frozen %.2f ms", ms)
	}
	return fmt.Sprintf("frozen %.1f ms", ms)
}

// elideTypeArgs writes every outermost "[...]" of a name as "[...]".
func elideTypeArgs(fn string) string {
	if !strings.Contains(fn, "[") {
		return fn
	}
	var b strings.Builder
	depth := 0
	for _, c := range fn {
		switch {
		case c == '[':
			if depth == 0 {
				b.WriteString("[...]")
			}
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(c)
		}
	}
	return b.String()
}
