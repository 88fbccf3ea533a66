package dump

import (
	"compress/gzip"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/pprof/profile"

	"github.com/gorigin-dev/gorigin/snapshot"
)

// maxProfileBytes bounds a debug=0 profile read into memory, uncompressed (it is one
// protobuf message); real ones are kilobytes to a few megabytes.
const maxProfileBytes = 256 << 20

// Debug0Warning is the warning of every snapshot read from a debug=0 profile.
const Debug0Warning = "a debug=0 goroutine profile aggregates goroutines by stack: it has no goroutine ids, states, " +
	"wait times or creation sites, so goroutines are grouped by their bottom (start) frame, not by the go statement " +
	"that created them; fetch debug=2 for those"

// parseProfile reads the gzipped protobuf goroutine profile (debug=0): one sample per
// distinct stack and label set, its value the number of goroutines.
func parseProfile(r io.Reader, opt Options) (*snapshot.Snapshot, error) {
	// Decompress here, bounded, rather than in profile.ParseData: a small gzip stream can
	// expand without limit.
	compressed := &countingReader{r: r}
	zr, err := gzip.NewReader(compressed)
	if err != nil {
		return nil, fmt.Errorf("gzipped data that is not a pprof profile (%v): %w", err, ErrNoDump)
	}
	data, err := io.ReadAll(io.LimitReader(zr, maxProfileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("gzipped data that is not a pprof profile (%v): %w", err, ErrNoDump)
	}
	if len(data) > maxProfileBytes {
		return nil, fmt.Errorf("goroutine profile larger than %d MB uncompressed: not a goroutine profile? fetch debug=2 instead", maxProfileBytes>>20)
	}
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		return nil, fmt.Errorf("gzip inside gzip is not a pprof profile: %w", ErrNoDump)
	}
	if cost, err := profileCost(data); err != nil {
		return nil, fmt.Errorf("gzipped data that is not a pprof profile (%v): %w", err, ErrNoDump)
	} else if cost > maxProfileCost {
		return nil, fmt.Errorf("a goroutine profile of %d bytes (%d uncompressed) whose records would take %d MB to decode, "+
			"more than a real one of that size: crafted or damaged? fetch debug=2 instead: %w", compressed.n, len(data), cost>>20, snapshot.ErrTooLarge)
	}
	p, err := profile.ParseData(data)
	if err != nil {
		return nil, fmt.Errorf("gzipped data that is not a pprof profile (%v): %w", err, ErrNoDump)
	}
	if len(p.SampleType) == 0 || p.SampleType[0].Type != "goroutine" {
		var t string
		if len(p.SampleType) > 0 {
			t = p.SampleType[0].Type
		}
		return nil, fmt.Errorf("a pprof profile of %q, not of goroutines: %w", t, ErrNoDump)
	}
	s := newSnapshot(opt)
	if p.TimeNanos > 0 {
		s.Source.TakenAt = time.Unix(0, p.TimeNanos).UTC()
	}
	s.Warnings = append(s.Warnings, Debug0Warning)
	var in interner
	total := 0
	for _, smp := range p.Sample {
		if len(smp.Value) == 0 || smp.Value[0] <= 0 {
			continue
		}
		count := smp.Value[0]
		if count > int64(maxExpanded-total) {
			count = int64(maxExpanded - total)
			s.Warnings = append(s.Warnings, fmt.Sprintf("the profile counts more than %d goroutines: only that many were kept", maxExpanded))
		}
		g := snapshot.Goroutine{Status: "unknown"}
		for _, loc := range smp.Location { // innermost first
			for i := range loc.Line { // innermost (inlined) first
				ln := loc.Line[i]
				if ln.Function == nil || len(g.Frames) >= maxFrames {
					continue
				}
				g.Frames = append(g.Frames, snapshot.Location{
					Func: in.str([]byte(ln.Function.Name)), File: in.str([]byte(ln.Function.Filename)),
					Line: int(ln.Line), Inlined: i < len(loc.Line)-1,
				})
			}
		}
		for k, vs := range smp.Label {
			if len(vs) == 0 {
				continue
			}
			if g.Labels == nil {
				g.Labels = map[string]string{}
			}
			g.Labels[in.str([]byte(k))] = in.str([]byte(vs[0]))
		}
		g = finish(&in, g, g.Frames, false, false)
		if in.kept+(int64(total)+count)*snapshot.GoroutineSize > maxKept {
			return nil, overBudget("the goroutine profile", total, maxKept)
		}
		s.Goroutines = slices.Grow(s.Goroutines, int(count))
		for range count {
			s.Goroutines = append(s.Goroutines, g)
		}
		total += int(count)
		if total >= maxExpanded {
			break
		}
	}
	return s, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
