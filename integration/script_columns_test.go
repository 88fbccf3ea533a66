package integration

import (
	"strings"
	"testing"
)

// checkColumnsAligned checks that every row of a debugger script's grouped table starts
// each column where the header names it: the count ends under COUNT, and STATE, the
// created-at, START and EXAMPLES cells begin under their headings.
func checkColumnsAligned(t *testing.T, who, out string) {
	t.Helper()
	var head string
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "COUNT  ") {
			head = line
			continue
		}
		if head == "" || goroutinesByOriginRow.FindStringSubmatch(line) == nil {
			continue
		}
		rows++
		for _, col := range []string{"STATE", "CREATED AT", "START", "EXAMPLES"} {
			at := strings.Index(head, col)
			if at < 0 {
				continue
			}
			if len(line) <= at || line[at] == ' ' || line[at-1] != ' ' {
				t.Errorf("%s: the %s cell does not begin under its heading (column %d):\n%s\n%s", who, col, at, head, line)
			}
		}
		if n := len("COUNT"); len(line) <= n || line[n-1] == ' ' || line[n] != ' ' {
			t.Errorf("%s: the count does not end under COUNT:\n%s\n%s", who, head, line)
		}
	}
	if rows == 0 {
		t.Errorf("%s: no table rows under a COUNT header", who)
	}
}
