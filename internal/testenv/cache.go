package testenv

import (
	"os"
	"path/filepath"
)

// IsolateCache points the user cache directory (XDG_CACHE_HOME) of every gorigin a test
// starts at a new temporary directory, so that what gorigin remembers between looks (its
// history of each process) stays within the run, and returns a function that removes it.
// The go command's build cache stays where it was: GOCACHE is set to it first.
func IsolateCache() (cleanup func()) {
	if os.Getenv("GOCACHE") == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			os.Setenv("GOCACHE", filepath.Join(dir, "go-build"))
		}
	}
	dir, err := os.MkdirTemp("", "gorigin-cache-")
	if err != nil {
		return func() {}
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	return func() { os.RemoveAll(dir) }
}
