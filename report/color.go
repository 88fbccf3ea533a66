package report

// sgr is an ANSI "select graphic rendition" code: the colours and weights of the text
// table on a terminal. Only a few, chosen to read on dark and light backgrounds alike.
type sgr string

const (
	plain  sgr = ""
	bold   sgr = "1"
	dim    sgr = "2"
	red    sgr = "31"
	green  sgr = "32"
	yellow sgr = "33"
)

// paint wraps t in s when on: the table without colour is byte for byte the table with
// its escape sequences removed.
func paint(on bool, s sgr, t string) string {
	if !on || s == plain || t == "" {
		return t
	}
	return "\x1b[" + string(s) + "m" + t + "\x1b[0m"
}
