package terminal

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Progress draws a one-line progress bar on a terminal for work long enough to wonder
// about (reading a large target, symbolising many goroutines); on anything else it draws
// nothing. The bar appears only after the work has run for a moment, redraws a few times a
// second at most, and erases itself when a stage reaches its total, so output that
// follows on the same terminal starts on a clean line.
type Progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool
	cols  int
	now   func() time.Time
	start time.Time // of the first Update
	drawn time.Time // of the last draw; zero when nothing is on the line
	shown string    // the stage last drawn

	stage       string // the current stage, "" when none is under way
	done, total int
	ticks       bool        // redraw on a timer between Updates (off in tests: they call tick)
	timer       *time.Timer // while a stage is under way and ticks is set
}

const (
	progressDelay = 300 * time.Millisecond // quick work shows no bar at all
	progressEvery = 100 * time.Millisecond
)

// NewProgress returns a Progress that draws on w when w is a terminal (TERM not "dumb").
func NewProgress(w io.Writer) *Progress {
	on := Is(w) && os.Getenv("TERM") != "dumb"
	p := newProgress(w, on, Width(w), time.Now)
	p.ticks = true // a stage of unknown length is one Update: keep its time going
	return p
}

func newProgress(w io.Writer, on bool, cols int, now func() time.Time) *Progress {
	if cols <= 0 {
		cols = 80
	}
	return &Progress{w: w, on: on, cols: cols, now: now}
}

// Update says that done of total units of stage are done; total 0 means the amount is
// unknown. done == total > 0 ends the stage and erases the bar. It is safe to call from
// several goroutines and on a nil *Progress.
func (p *Progress) Update(stage string, done, total int) {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.start.IsZero() {
		p.start = now
	}
	if total > 0 && done >= total {
		p.clear()
		return
	}
	p.stage, p.done, p.total = stage, done, total
	if p.ticks && p.timer == nil {
		p.timer = time.AfterFunc(progressEvery, p.tick)
	}
	p.draw(now)
}

// tick redraws the bar between Updates, so the time of a long stage keeps going.
func (p *Progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stage == "" {
		return
	}
	p.draw(p.now())
	if p.timer != nil {
		p.timer.Reset(progressEvery)
	}
}

// draw draws the current stage, unless the work is young or the last draw recent.
func (p *Progress) draw(now time.Time) {
	switch {
	case now.Sub(p.start) < progressDelay:
		return
	case p.stage == p.shown && !p.drawn.IsZero() && now.Sub(p.drawn) < progressEvery:
		return
	}
	p.shown, p.drawn = p.stage, now
	fmt.Fprint(p.w, "\r"+progressLine(p.stage, p.done, p.total, now.Sub(p.start), p.cols-1)+"\x1b[K")
}

// Clear erases the bar if one is drawn. Call it before writing anything else to the
// terminal when the work may have stopped short of its total (an error).
func (p *Progress) Clear() {
	if p == nil || !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *Progress) clear() {
	if !p.drawn.IsZero() {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	p.drawn, p.stage, p.shown = time.Time{}, "", ""
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

// progressLine is "gorigin: STAGE [=====>    ] 12,288/100,018  1.2s" in at most cols
// runes; with an unknown total, "gorigin: STAGE…  1.2s".
func progressLine(stage string, done, total int, took time.Duration, cols int) string {
	head := "gorigin: " + stage
	secs := fmt.Sprintf("  %.1fs", took.Seconds())
	if total <= 0 {
		return cutEnd(head+"…"+secs, cols)
	}
	count := " " + thousands(done) + "/" + thousands(total)
	bar := cols - utf8.RuneCountInString(head+count+secs) - 3 // " [" and "]"
	if bar < 10 {
		return cutEnd(head+count+secs, cols)
	}
	bar = min(bar, 40)
	fill := min(bar, bar*max(done, 0)/total)
	arrow := ""
	if fill < bar {
		arrow = ">"
	}
	return head + " [" + strings.Repeat("=", fill) + arrow + strings.Repeat(" ", bar-fill-len(arrow)) + "]" + count + secs
}

// cutEnd cuts t to n runes, its end replaced by an ellipsis.
func cutEnd(t string, n int) string {
	r := []rune(t)
	if len(r) <= n || n < 1 {
		return t
	}
	return string(r[:n-1]) + "…"
}
