package source

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorigin-dev/gorigin/dbg"
)

// TestFetchCancelled: a fetch whose caller leaves (a DAP client that disconnected) ends
// with the caller's context error while the server still hangs, not with a complaint
// about the server; a server that hangs past the timeout is bad input that says so.
func TestFetchCancelled(t *testing.T) {
	release := make(chan struct{})
	asked := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-asked // the request reached the server: now the client leaves
		cancel()
	}()
	_, err := Fetch(ctx, srv.URL, FetchTimeout, false)
	if !errors.Is(err, context.Canceled) || dbg.BadInput(err) {
		t.Errorf("cancelled fetch: %v; want context.Canceled, not bad input", err)
	}

	_, err = Fetch(context.Background(), srv.URL, 1, false) // 1 ns: no server answers in time
	if !dbg.BadInput(err) || errors.Is(err, context.Canceled) {
		t.Errorf("timed-out fetch: %v; want bad input about the server", err)
	}
}
