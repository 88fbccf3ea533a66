// Command gorigin lists the goroutines of a Go process grouped by the go statement that
// created them. See README.md; the work is done in package internal/cli.
package main

import (
	"os"

	"github.com/gorigin-dev/gorigin/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
