package report

import (
	"io"

	"github.com/gorigin-dev/gorigin/snapshot"
)

func init() {
	register("json", func(w io.Writer, s *snapshot.Snapshot, _ []snapshot.Group, _ Options) error {
		return JSON(w, s)
	})
}

// JSON writes s as a snapshot document of schema snapshot.Schema: the whole snapshot,
// not the groups, so that any later run can group, filter and diff it again.
func JSON(w io.Writer, s *snapshot.Snapshot) error {
	return snapshot.Encode(w, s)
}
