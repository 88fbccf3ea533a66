package snapshot

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// gorigin remembers its previous look at a live process in a small file per process id
// under the user's cache directory, so that the next look can say which goroutines were
// already blocked at the same place then, and since when (Goroutine.SeenSeconds). A
// goroutine is the same when its id is; it is blocked at the same place when its status,
// wait reason, go statement, start function and (when both looks copied stacks) its
// stack's program counters are, and the runtime's own wait figures do not show that it ran
// in between (sameWait). A process is the same when its pid, its start time
// (/proc/PID/stat) and the machine's boot are: a reused pid is another process.

// Process identifies a process across looks: a pid is reused, its start time since boot
// on the same boot is not.
type Process struct {
	Pid int
	// StartTicks is the process' start time in clock ticks after boot (/proc/PID/stat field 22).
	StartTicks uint64
	// Boot is the kernel's boot id (/proc/sys/kernel/random/boot_id): 36 characters.
	Boot string
}

// IdentifyProcess reads what identifies process pid from /proc.
func IdentifyProcess(pid int) (Process, error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Process{}, fmt.Errorf("identify process %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold anything: the fields
	// after it follow the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return Process{}, fmt.Errorf("identify process %d: /proc/%d/stat has no ')'", pid, pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 { // field 3 (state) is fields[0], field 22 (starttime) fields[19]
		return Process{}, fmt.Errorf("identify process %d: /proc/%d/stat has %d fields after the name, want 20 or more", pid, pid, len(fields))
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return Process{}, fmt.Errorf("identify process %d: start time %q: %w", pid, fields[19], err)
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return Process{}, fmt.Errorf("identify process %d: %w", pid, err)
	}
	return Process{Pid: pid, StartTicks: start, Boot: fitBoot(string(bytes.TrimSpace(boot)))}, nil
}

// fitBoot pads or cuts a boot id to the file's fixed bootLen bytes.
func fitBoot(s string) string {
	if len(s) > bootLen {
		return s[:bootLen]
	}
	return s + strings.Repeat(" ", bootLen-len(s))
}

// MaxHistory is how many goroutines a history file remembers (40 bytes each: at most
// 40 MB). A look at a process with more remembers the longest-blocked of them.
const MaxHistory = 1 << 20

// History is gorigin's record of one look at one process: for each goroutine blocked
// then, its id, where it was blocked and since when gorigin has seen it there.
type History struct {
	Process Process
	TakenAt time.Time
	recs    []historyRecord // ascending by id, ids unique and positive
}

type historyRecord struct {
	id int64
	// place hashes the status, wait reason, go statement and start function; frames the
	// stack's program counters (0: the look copied no stack).
	place, frames uint64
	// since is the first of gorigin's uninterrupted looks that saw the goroutine blocked
	// at this place, in Unix nanoseconds.
	since int64
	// waitStart is when the runtime says the goroutine's wait began (takenAt less
	// WaitSeconds), in Unix nanoseconds; 0 when it does not say.
	waitStart int64
}

// rewaitSlack is how far apart two looks' readings of one wait's start may be and still
// be the same wait: each reading mixes the target's clock with gorigin's, a few
// milliseconds apart at most. Two garbage collections that start closer than this make a
// new wait look like the old one, which only errs towards "seen".
const rewaitSlack = int64(time.Second)

// sameWait reports whether the runtime's own figures allow that the goroutine did not run
// between two looks. The runtime sets g.waitsince when a garbage collection first finds
// the goroutine blocked and clears it whenever the goroutine runs, so a wait start known
// at the earlier look and unknown or different at the later one proves that it ran.
func sameWait(old, cur int64) bool {
	if old == 0 {
		return true
	}
	return cur != 0 && max(old-cur, cur-old) <= rewaitSlack
}

// blocked reports whether g is parked somewhere a later look could find it again.
func blocked(g *Goroutine) bool {
	return g.Status == StatusWaiting || g.Status == StatusSyscall || g.Status == StatusLeaked
}

// fnv64 is FNV-1a, written out so that hashing a goroutine's place allocates nothing.
type fnv64 uint64

const fnvOffset, fnvPrime = 14695981039346656037, 1099511628211

func (h *fnv64) str(s string) {
	for i := 0; i < len(s); i++ {
		*h = (*h ^ fnv64(s[i])) * fnvPrime
	}
	*h = (*h ^ 0xff) * fnvPrime // a separator no UTF-8 string holds
}

func (h *fnv64) loc(l *Location) {
	if l == nil {
		h.str("")
		return
	}
	h.str(l.PC)
	h.str(l.Func)
	h.str(l.File)
	for n := uint64(l.Line); ; n >>= 8 {
		*h = (*h ^ fnv64(n&0xff)) * fnvPrime
		if n < 0x100 {
			break
		}
	}
	*h = (*h ^ 0xfe) * fnvPrime
}

func placeOf(g *Goroutine) (place, frames uint64) {
	h := fnv64(fnvOffset)
	h.str(string(g.Status))
	h.str(g.WaitReason)
	h.loc(g.Origin)
	h.loc(g.Start)
	if len(g.Frames) == 0 {
		return uint64(h), 0
	}
	f := fnv64(fnvOffset)
	for i := range g.Frames {
		f.loc(&g.Frames[i])
	}
	return uint64(h), uint64(f) | 1 // never 0, which means "no stack"
}

// Next marks s with what h (the previous look at the same process; nil: none) saw: each
// goroutine of s that h saw blocked at the same place gets SeenSeconds, and
// s.Source.PreviousLook is h's time. It returns the history of this look, to be written
// for the next one.
func (h *History) Next(p Process, s *Snapshot) *History {
	now := s.Source.TakenAt
	if now.IsZero() {
		now = time.Now()
	}
	next := &History{Process: p, TakenAt: now}
	if h != nil {
		t := h.TakenAt.UTC()
		s.Source.PreviousLook = &t
	}
	n := 0
	for i := range s.Goroutines {
		if g := &s.Goroutines[i]; g.ID > 0 && blocked(g) {
			n++
		}
	}
	next.recs = make([]historyRecord, 0, n) // not grown by append: 40 MB at 1,000,000
	for i := range s.Goroutines {
		g := &s.Goroutines[i]
		if g.ID <= 0 || !blocked(g) {
			continue
		}
		r := historyRecord{id: g.ID, since: now.UnixNano()}
		if g.WaitSeconds > 0 && g.WaitSeconds < float64(now.Unix()) {
			r.waitStart = now.UnixNano() - int64(g.WaitSeconds*1e9)
		}
		r.place, r.frames = placeOf(g)
		if old, ok := h.find(g.ID); ok && old.place == r.place && (old.frames == 0 || r.frames == 0 || old.frames == r.frames) &&
			old.since < r.since && sameWait(old.waitStart, r.waitStart) {
			r.since = old.since
			if r.frames == 0 {
				r.frames = old.frames // a look without stacks does not forget them
			}
			g.SeenSeconds = float64(now.UnixNano()-old.since) / 1e9
		}
		next.recs = append(next.recs, r)
	}
	slices.SortFunc(next.recs, func(a, b historyRecord) int { return cmp.Compare(a.id, b.id) })
	next.recs = slices.CompactFunc(next.recs, func(a, b historyRecord) bool { return a.id == b.id })
	if len(next.recs) > MaxHistory { // keep the longest-blocked
		slices.SortFunc(next.recs, func(a, b historyRecord) int { return cmp.Compare(a.since, b.since) })
		next.recs = next.recs[:MaxHistory]
		slices.SortFunc(next.recs, func(a, b historyRecord) int { return cmp.Compare(a.id, b.id) })
	}
	return next
}

func (h *History) find(id int64) (historyRecord, bool) {
	if h == nil {
		return historyRecord{}, false
	}
	i, ok := slices.BinarySearchFunc(h.recs, id, func(r historyRecord, id int64) int { return cmp.Compare(r.id, id) })
	if !ok {
		return historyRecord{}, false
	}
	return h.recs[i], true
}

// Seen is how many of the goroutines at members (indexes into gs) an earlier look saw
// blocked at the same place, and the shortest time since the look that first saw one of
// them (every one of them has been there at least that long); 0, 0 when none.
func Seen(gs []Goroutine, members []int) (n int, seconds float64) {
	for _, i := range members {
		if s := gs[i].SeenSeconds; s > 0 {
			if n == 0 || s < seconds {
				seconds = s
			}
			n++
		}
	}
	return n, seconds
}

// The file: the magic, then little-endian: the start ticks (8 bytes), the boot id
// (bootLen bytes), the look's time in Unix nanoseconds (8), the record count (4), and the
// records of 40 bytes: id, place, frames, since, wait start.
const (
	historyMagic = "gorigin history 1\n"
	bootLen      = 36
	headerLen    = len(historyMagic) + 8 + bootLen + 8 + 4
	recordLen    = 40
)

// HistoryDir is where gorigin keeps its histories: gorigin/history under the user's
// cache directory ($XDG_CACHE_HOME, else ~/.cache).
func HistoryDir() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for gorigin's history: %w (set XDG_CACHE_HOME or HOME, or use --no-history)", err)
	}
	return filepath.Join(c, "gorigin", "history"), nil
}

func historyName(pid int) string { return strconv.Itoa(pid) }

// ErrNoHistory is ReadHistory's error when there is no previous look at the process (no
// file, or the file is of another process that had the same pid).
var ErrNoHistory = errors.New("no previous look at this process")

// ReadHistory reads the previous look at p from dir. The file is not trusted: it is read
// only if it is a regular file of at most the size MaxHistory records take, and it must
// be well formed (sorted unique positive ids, times not after the look); else the error
// says what is wrong with it.
func ReadHistory(dir string, p Process) (*History, error) {
	root, err := os.OpenRoot(dir) // the file is opened below dir, never through a symlink out of it
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoHistory
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer root.Close()
	if err := checkPrivate(root, dir); err != nil {
		return nil, err
	}
	f, err := root.Open(historyName(p.Pid))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoHistory
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	path := filepath.Join(dir, historyName(p.Pid))
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("history file %s is not a regular file", path)
	}
	const most = int64(headerLen + MaxHistory*recordLen)
	// Read into a buffer of the file's size: io.ReadAll's doubling would allocate twice a
	// history of 1,000,000 goroutines (40 MB) beside the snapshot it is for.
	buf := bytes.NewBuffer(make([]byte, 0, min(max(fi.Size(), 0), most)+bytes.MinRead))
	_, err = buf.ReadFrom(io.LimitReader(f, most+1))
	data := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("read history %s: %w", path, err)
	}
	h, err := parseHistory(data, time.Now())
	if err != nil {
		return nil, fmt.Errorf("history file %s: %w", path, err)
	}
	h.Process.Pid = p.Pid // the file's name
	if h.Process != p {
		return nil, ErrNoHistory // another process that had this pid
	}
	return h, nil
}

func parseHistory(data []byte, now time.Time) (*History, error) {
	if len(data) < headerLen || string(data[:len(historyMagic)]) != historyMagic {
		return nil, fmt.Errorf("not a gorigin history file (%d bytes)", len(data))
	}
	b := data[len(historyMagic):]
	le := binary.LittleEndian
	h := &History{}
	h.Process.StartTicks = le.Uint64(b)
	h.Process.Boot = string(b[8 : 8+bootLen])
	b = b[8+bootLen:]
	taken := int64(le.Uint64(b))
	n := int64(le.Uint32(b[8:]))
	b = b[12:]
	switch {
	case n > MaxHistory:
		return nil, fmt.Errorf("%d records, more than the %d a history holds", n, MaxHistory)
	case int64(len(b)) != n*recordLen:
		return nil, fmt.Errorf("%d records need %d bytes, the file has %d", n, n*recordLen, len(b))
	case taken <= 0 || taken > now.Add(time.Hour).UnixNano():
		return nil, fmt.Errorf("look time %d is not a time before now", taken)
	}
	h.TakenAt = time.Unix(0, taken)
	h.recs = make([]historyRecord, n)
	for i := range h.recs {
		r := b[i*recordLen:]
		h.recs[i] = historyRecord{id: int64(le.Uint64(r)), place: le.Uint64(r[8:]), frames: le.Uint64(r[16:]), since: int64(le.Uint64(r[24:])), waitStart: int64(le.Uint64(r[32:]))}
		switch rec := h.recs[i]; {
		case rec.id <= 0 || (i > 0 && rec.id <= h.recs[i-1].id):
			return nil, fmt.Errorf("record %d: goroutine id %d out of order", i, rec.id)
		case rec.since <= 0 || rec.since > taken:
			return nil, fmt.Errorf("record %d: goroutine %d seen since %d, after the look at %d", i, rec.id, rec.since, taken)
		case rec.waitStart < 0 || rec.waitStart > taken:
			return nil, fmt.Errorf("record %d: goroutine %d waiting since %d, after the look at %d", i, rec.id, rec.waitStart, taken)
		}
	}
	return h, nil
}

func (h *History) encode() []byte {
	le := binary.LittleEndian
	b := make([]byte, 0, headerLen+len(h.recs)*recordLen)
	b = append(b, historyMagic...)
	b = le.AppendUint64(b, h.Process.StartTicks)
	b = append(b, fitBoot(h.Process.Boot)...)
	b = le.AppendUint64(b, uint64(h.TakenAt.UnixNano()))
	b = le.AppendUint32(b, uint32(len(h.recs)))
	for _, r := range h.recs {
		b = le.AppendUint64(b, uint64(r.id))
		b = le.AppendUint64(b, r.place)
		b = le.AppendUint64(b, r.frames)
		b = le.AppendUint64(b, uint64(r.since))
		b = le.AppendUint64(b, uint64(r.waitStart))
	}
	return b
}

// historyTTL is how long an unread history file is kept: WriteHistory removes older ones.
const historyTTL = 30 * 24 * time.Hour

// WriteHistory writes h into dir (made 0700 if missing) as its process' file, mode 0600,
// whole or not at all (a file beside it renamed over it). dir must be a directory the
// user owns that no one else can write to. Files of looks older than 30 days are removed.
func WriteHistory(dir string, h *History) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	defer root.Close()
	if err := checkPrivate(root, dir); err != nil {
		return err
	}
	name := historyName(h.Process.Pid)
	tmp := fmt.Sprintf(".%s.%d.tmp", name, os.Getpid())
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	_, err = f.Write(h.encode())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("write history %s: %w", filepath.Join(dir, name), err)
	}
	prune(root, h.TakenAt)
	return nil
}

// checkPrivate refuses a history directory another user could write to or owns: gorigin
// often runs as root, and must not write where someone else chose.
func checkPrivate(root *os.Root, dir string) error {
	fi, err := root.Stat(".")
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if fi.Mode().Perm()&0o022 != 0 || !ownedByMe(fi) {
		return fmt.Errorf("history directory %s is writable by others or not yours (mode %v): not used; remove it (gorigin makes it again, mode 0700) or use --no-history", dir, fi.Mode().Perm())
	}
	return nil
}

// prune removes history files last written more than historyTTL before now.
func prune(root *os.Root, now time.Time) {
	d, err := root.Open(".")
	if err != nil {
		return
	}
	defer d.Close()
	ents, err := d.ReadDir(4096) // bounded: what is left is pruned by later runs
	if err != nil && len(ents) == 0 {
		return
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && now.Sub(fi.ModTime()) > historyTTL {
			root.Remove(e.Name())
		}
	}
}

func ownedByMe(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || int(st.Uid) == os.Geteuid()
}
