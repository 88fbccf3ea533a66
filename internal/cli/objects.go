package cli

import (
	"github.com/gorigin-dev/gorigin/snapshot"
)

// byObject reports whether --by object was asked: the goroutines grouped by the channel,
// mutex, WaitGroup or Cond they wait on, which gorigin reads from a live process or a
// core (source.AttachObjects, source.CoreObjects).
func byObject(f *flags) bool {
	k, _ := snapshot.ParseKey(f.by)
	return k.Kind == snapshot.ByObject
}

// noObjects is the error of --by object where no wait object can be read: why says
// where ("a goroutine dump does not carry them").
func noObjects(why string) error {
	return usageError{msg: "--by object groups goroutines by the channel, mutex, WaitGroup or Cond they wait on, which gorigin reads from a live process (gorigin attach PID) or a core (gorigin core CORE); " +
		why + ": group by wait reason with --by wait"}
}
