// Command leakmany starts 5,000 goroutines, each blocked receiving on its own channel that
// nothing else holds: every one of them is leaked. The last channel made stays in a dead
// slot of main's frame, which only the compiler's stack maps tell from a live one.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

const n = 5000

func main() {
	for i := 0; i < n; i++ {
		ch := make(chan int)
		go func() { <-ch }() // LEAK each 5000
	}
	time.Sleep(100 * time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("ready pid=%d addr=%s\n", os.Getpid(), ln.Addr())
	io.Copy(io.Discard, os.Stdin)
}
