// Command panicker is a target that panics when told: it prints one line
// "ready pid=N addr=127.0.0.1:PORT" (a port it listens on and never serves), parks a few
// goroutines, and panics with "gorigin-panicker: deliberate panic" when its standard input
// says "panic". A target whose runtime crash functions still hold a debugger's int3 dies
// of SIGTRAP instead, without that message.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
)

var block = make(chan struct{})

func main() {
	for i := 0; i < 10; i++ {
		go func() { <-block }()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer ln.Close()
	fmt.Printf("ready pid=%d addr=%s\n", os.Getpid(), ln.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if sc.Text() == "panic" {
			panic("gorigin-panicker: deliberate panic")
		}
	}
}
