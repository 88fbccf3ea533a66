package native

import "github.com/gorigin-dev/gorigin/dbg/procfs"

// threadGone reports whether thread tid of pid has exited or is exiting (a zombie),
// which is why attaching to it can fail with EPERM or ESRCH.
func threadGone(pid, tid int) bool {
	st, err := procfs.ReadTaskStatus(pid, tid)
	return err != nil || st.State == 'Z' || st.State == 'X'
}
