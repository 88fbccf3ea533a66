// Command dapping is a DAP client for the reliability tests that run one as another
// user: it connects (tcp or unix), sends initialize and prints one line per message it
// gets until the initialize response (or, given launch arguments, the launch response)
// or the end of the connection:
//
//	response initialize success=true
//	event output: gorigin dap: refused: …
//	closed
//
// It uses only the standard library, so that it builds on its own.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: dapping tcp|unix ADDRESS [LAUNCH-ARGUMENTS-JSON]")
		os.Exit(2)
	}
	conn, err := net.DialTimeout(os.Args[1], os.Args[2], 30*time.Second)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	body := `{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"dapping"}}`
	fmt.Fprintf(conn, "Content-Length: %d\r\n\r\n%s", len(body), body)
	r := bufio.NewReader(conn)
	for {
		h, err := textproto.NewReader(r).ReadMIMEHeader()
		if err != nil {
			fmt.Println("closed")
			return
		}
		n, err := strconv.Atoi(h.Get("Content-Length"))
		if err != nil || n < 0 || n > 1<<20 {
			fmt.Println("bad header")
			os.Exit(1)
		}
		content := make([]byte, n)
		if _, err := io.ReadFull(r, content); err != nil {
			fmt.Println("closed")
			return
		}
		var m struct {
			Type, Command, Event, Message string
			Success                       bool
			Body                          struct{ Output string }
		}
		json.Unmarshal(content, &m)
		switch m.Type {
		case "response":
			fmt.Printf("response %s success=%v %s\n", m.Command, m.Success, m.Message)
			if m.Command == "initialize" && m.Success && len(os.Args) == 4 {
				launch := `{"seq":2,"type":"request","command":"launch","arguments":` + os.Args[3] + `}`
				fmt.Fprintf(conn, "Content-Length: %d\r\n\r\n%s", len(launch), launch)
				continue
			}
			return
		case "event":
			fmt.Printf("event %s: %q\n", m.Event, m.Body.Output)
		}
	}
}
