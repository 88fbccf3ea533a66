package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
)

var never = make(chan int)

func wait() { <-never }

func main() {
	for i := 0; i < 3; i++ {
		go wait() // a steady pool
	}
	http.HandleFunc("/leak", func(w http.ResponseWriter, r *http.Request) {
		go wait() // line 21: leaks
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, nil)
	fmt.Printf("ready addr=%s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
}
