//go:build race

package addr2line

const raceEnabled = true
