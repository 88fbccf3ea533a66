package report

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// maxCrashFrames bounds the frames of the crashed goroutine shown above the table.
const maxCrashFrames = 8

// writeCrash writes, above the table, the panic or fatal error a crash log ends with and
// the goroutine that hit it, with its innermost frames: the first thing to read in a
// crash. The message is the program's text: every line is escaped.
func writeCrash(b *bytes.Buffer, s *snapshot.Snapshot, opt Options) {
	c := s.Crash
	if c == nil {
		return
	}
	for _, line := range strings.Split(c.Message, "\n") {
		b.WriteString(paint(opt.Color, red, Printable(line)) + "\n")
	}
	if c.Goroutine == 0 {
		return
	}
	for i := range s.Goroutines {
		g := &s.Goroutines[i]
		if g.ID != c.Goroutine {
			continue
		}
		fmt.Fprintf(b, "goroutine %d [%s] crashed:\n", g.ID, Printable(snapshot.StateText(g.Status, g.WaitReason)))
		for j, f := range g.Frames {
			if j == maxCrashFrames {
				fmt.Fprintf(b, "    (+%d more frames: -v)\n", len(g.Frames)-j)
				break
			}
			fmt.Fprintf(b, "    %s  %s\n", Printable(f.Func), Printable(fileLine(f)))
		}
		b.WriteString("\n")
		return
	}
	fmt.Fprintf(b, "goroutine %d crashed (not among the goroutines shown)\n\n", c.Goroutine)
}

func fileLine(f snapshot.Location) string {
	if f.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", f.File, f.Line)
}
