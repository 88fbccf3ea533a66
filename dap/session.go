package dap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	godap "github.com/google/go-dap"

	"github.com/gorigin-dev/gorigin/report"
)

// session is one client's conversation. Requests are handled one at a time, in order.
type session struct {
	ctx context.Context
	w   *writer
	src Sources

	client      godap.InitializeRequestArguments
	initialized bool    // the initialize request was answered
	opened      *opened // what attach or launch opened; nil before
	configured  bool    // configurationDone was answered
	cur, prev   *view   // the snapshot shown and the one before it (for diff)
	ids         threadIDs
	progress    int
}

func newSession(ctx context.Context, w io.Writer, src Sources) *session {
	return &session{ctx: ctx, w: &writer{w: w}, src: src, ids: threadIDs{}}
}

// requestError is an error response's text and whether the IDE should show it.
type requestError struct {
	msg  string
	show bool
}

func (e *requestError) Error() string { return e.msg }

func userError(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...), show: true}
}

// Error ids of error responses.
const (
	errUnsupported = 1000 + iota
	errOrder
	errBadArgs
	errSource
	errMalformed
)

func (s *session) fail(seq int, command string, id int, err error) {
	show := true
	var re *requestError
	if errors.As(err, &re) {
		show = re.show
	}
	r := &godap.ErrorResponse{}
	r.RequestSeq, r.Command, r.Success, r.Message = seq, command, false, err.Error()
	r.Body.Error = &godap.ErrorMessage{Id: id, Format: err.Error(), ShowUser: show}
	s.w.send(r)
}

func response(req *godap.Request) godap.Response {
	return godap.Response{RequestSeq: req.Seq, Command: req.Command, Success: true}
}

func (s *session) event(name string) godap.Event { return godap.Event{Event: name} }

// output sends text to the IDE's debug console. IDE consoles act on ANSI escapes as a
// terminal does, and text here quotes the target (warnings, names, errors): every line is
// made report.Printable, the line breaks kept.
func (s *session) output(category, text string) {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = report.Printable(l)
	}
	text = strings.Join(lines, "\n")
	s.w.send(&godap.OutputEvent{Event: s.event("output"), Body: godap.OutputEventBody{Category: category, Output: text}})
}

// badMessage answers a message that kept the framing but is not a request gorigin can
// decode: invalid JSON, an unknown command, arguments of the wrong type.
func (s *session) badMessage(content []byte, err error) {
	var head struct {
		Seq     int    `json:"seq"`
		Type    string `json:"type"`
		Command string `json:"command"`
	}
	if jerr := json.Unmarshal(content, &head); jerr != nil {
		s.fail(0, "", errMalformed, fmt.Errorf("a message is not valid JSON (%v); it was ignored", jerr))
		return
	}
	if head.Type != "request" {
		if head.Type == "response" {
			return // an answer to a reverse request gorigin never sends
		}
		s.fail(head.Seq, head.Command, errMalformed, fmt.Errorf("message type %q: a client sends requests", head.Type))
		return
	}
	var fe *godap.DecodeProtocolMessageFieldError
	if errors.As(err, &fe) && fe.FieldName == "command" {
		s.fail(head.Seq, head.Command, errUnsupported, fmt.Errorf("gorigin dap does not support the %q request", head.Command))
		return
	}
	s.fail(head.Seq, head.Command, errBadArgs, fmt.Errorf("%s: malformed arguments: %v", head.Command, err))
}

// handle answers one message; it returns true when the session is over.
func (s *session) handle(msg godap.Message) (done bool) {
	defer func() {
		if p := recover(); p != nil {
			// A bug must not take the adapter down with the IDE's session: say so, go on.
			if rm, ok := msg.(godap.RequestMessage); ok {
				r := rm.GetRequest()
				s.fail(r.Seq, r.Command, errUnsupported, fmt.Errorf("internal error in gorigin dap (please report): %v", p))
			}
			done = false
		}
	}()
	rm, ok := msg.(godap.RequestMessage)
	if !ok {
		return false // responses and events from a client are not for us
	}
	req := rm.GetRequest()
	if _, ok := msg.(*godap.InitializeRequest); !ok && !s.initialized {
		if _, isDisconnect := msg.(*godap.DisconnectRequest); !isDisconnect {
			s.fail(req.Seq, req.Command, errOrder, userError("%s before initialize: send initialize first", req.Command))
			return false
		}
	}
	switch m := msg.(type) {
	case *godap.InitializeRequest:
		s.onInitialize(m)
	case *godap.AttachRequest:
		s.onOpen(req, m.Arguments)
	case *godap.LaunchRequest:
		s.onOpen(req, m.Arguments)
	case *godap.ConfigurationDoneRequest:
		s.onConfigurationDone(m)
	case *godap.DisconnectRequest:
		s.onDisconnect(m)
		return true
	case *godap.TerminateRequest:
		s.onTerminate(m)
	case *godap.SetBreakpointsRequest:
		s.onSetBreakpoints(m)
	case *godap.SetExceptionBreakpointsRequest:
		s.w.send(&godap.SetExceptionBreakpointsResponse{Response: response(req)})
	case *godap.SetFunctionBreakpointsRequest:
		s.w.send(&godap.SetFunctionBreakpointsResponse{Response: response(req),
			Body: godap.SetFunctionBreakpointsResponseBody{Breakpoints: unverified(len(m.Arguments.Breakpoints))}})
	case *godap.ThreadsRequest:
		if v := s.need(req); v != nil {
			s.onThreads(req, v)
		}
	case *godap.StackTraceRequest:
		if v := s.need(req); v != nil {
			s.onStackTrace(m, v)
		}
	case *godap.ScopesRequest:
		if v := s.need(req); v != nil {
			s.onScopes(m, v)
		}
	case *godap.VariablesRequest:
		if v := s.need(req); v != nil {
			s.onVariables(m, v)
		}
	case *godap.EvaluateRequest:
		s.onEvaluate(m)
	case *godap.PauseRequest:
		if s.need(req) != nil {
			s.w.send(&godap.PauseResponse{Response: response(req)})
			s.resnap("pause")
		}
	case *godap.ContinueRequest:
		if s.need(req) != nil {
			s.w.send(&godap.ContinueResponse{Response: response(req), Body: godap.ContinueResponseBody{AllThreadsContinued: true}})
			s.resnap("pause")
		}
	case *godap.NextRequest, *godap.StepInRequest, *godap.StepOutRequest, *godap.StepBackRequest,
		*godap.ReverseContinueRequest, *godap.RestartFrameRequest, *godap.GotoRequest:
		s.fail(req.Seq, req.Command, errUnsupported, userError("gorigin shows snapshots of goroutines and cannot step: use continue (or the REPL's refresh) for a new snapshot"))
	case *godap.SetVariableRequest, *godap.SetExpressionRequest, *godap.WriteMemoryRequest:
		s.fail(req.Seq, req.Command, errUnsupported, userError("gorigin never writes to the target"))
	default:
		s.fail(req.Seq, req.Command, errUnsupported, &requestError{msg: fmt.Sprintf("gorigin dap does not support the %q request", req.Command)})
	}
	return false
}

// need returns the view requests about goroutines read, or answers that there is none.
func (s *session) need(req *godap.Request) *view {
	if s.cur == nil {
		s.fail(req.Seq, req.Command, errOrder, userError("%s: no snapshot yet: send attach (processId) or launch (mode core or dump) first", req.Command))
		return nil
	}
	return s.cur
}

func (s *session) onInitialize(m *godap.InitializeRequest) {
	if s.initialized {
		s.fail(m.Seq, m.Command, errOrder, userError("initialize was already sent in this session"))
		return
	}
	s.client = m.Arguments
	s.initialized = true
	s.w.send(&godap.InitializeResponse{Response: response(&m.Request), Body: godap.Capabilities{
		// Only what gorigin really does.
		SupportsConfigurationDoneRequest: true,
		SupportsTerminateRequest:         true,
		SupportSuspendDebuggee:           false,
		SupportTerminateDebuggee:         false,
		SupportsDelayedStackTraceLoading: true,
	}})
}

func (s *session) onOpen(req *godap.Request, args json.RawMessage) {
	if s.opened != nil {
		s.fail(req.Seq, req.Command, errOrder, userError("%s: this session already shows %s: disconnect and start a new session", req.Command, s.opened.what))
		return
	}
	o, err := open(req.Command, args, s.src)
	if err != nil {
		s.fail(req.Seq, req.Command, errBadArgs, err)
		return
	}
	v, err := s.take(o)
	if err != nil {
		s.fail(req.Seq, req.Command, errSource, err)
		return
	}
	s.opened = o
	s.show(v)
	switch req.Command {
	case "attach":
		s.w.send(&godap.AttachResponse{Response: response(req)})
	default:
		s.w.send(&godap.LaunchResponse{Response: response(req)})
	}
	s.w.send(&godap.InitializedEvent{Event: s.event("initialized")})
}

func (s *session) onConfigurationDone(m *godap.ConfigurationDoneRequest) {
	if s.cur == nil {
		s.fail(m.Seq, m.Command, errOrder, userError("configurationDone before attach or launch"))
		return
	}
	s.w.send(&godap.ConfigurationDoneResponse{Response: response(&m.Request)})
	if !s.configured {
		s.configured = true
		s.stopped("entry")
	}
}

func (s *session) onDisconnect(m *godap.DisconnectRequest) {
	if s.opened != nil && s.opened.live && m.Arguments != nil && m.Arguments.TerminateDebuggee {
		s.output("console", "gorigin never kills the process it looks at: "+s.opened.what+" runs on\n")
	}
	s.w.send(&godap.DisconnectResponse{Response: response(&m.Request)})
}

func (s *session) onTerminate(m *godap.TerminateRequest) {
	s.w.send(&godap.TerminateResponse{Response: response(&m.Request)})
	if s.opened != nil && s.opened.live {
		s.output("console", "gorigin does not kill "+s.opened.what+": it is detached and runs on\n")
	}
	s.w.send(&godap.TerminatedEvent{Event: s.event("terminated")})
}

func (s *session) onSetBreakpoints(m *godap.SetBreakpointsRequest) {
	s.w.send(&godap.SetBreakpointsResponse{Response: response(&m.Request),
		Body: godap.SetBreakpointsResponseBody{Breakpoints: unverified(len(m.Arguments.Breakpoints))}})
}

func unverified(n int) []godap.Breakpoint {
	bps := make([]godap.Breakpoint, min(n, 10000))
	for i := range bps {
		bps[i] = godap.Breakpoint{Verified: false, Message: "gorigin shows snapshots and does not stop at breakpoints"}
	}
	return bps
}

// take reads a snapshot from o's source, with progress events when the client shows them.
func (s *session) take(o *opened) (*view, error) {
	start := time.Now()
	end := s.progressStart("gorigin: reading "+o.what, "copying goroutines")
	snap, err := o.src(s.ctx)
	if err != nil {
		end("failed")
		return nil, fmt.Errorf("%s: %w", o.what, err)
	}
	if snap == nil {
		end("failed")
		return nil, fmt.Errorf("%s: the source returned no snapshot", o.what)
	}
	v := newView(snap, o, s.ids)
	msg := fmt.Sprintf("%s goroutines in %v", comma(len(snap.Goroutines)), time.Since(start).Round(time.Millisecond))
	if snap.Source.FreezeMicros > 0 {
		msg += fmt.Sprintf(", target frozen %.1f ms", float64(snap.Source.FreezeMicros)/1000)
	}
	end(msg)
	for _, w := range snap.Warnings {
		s.output("stderr", "warning: "+w+"\n")
	}
	if v.hidden > 0 {
		s.output("console", fmt.Sprintf("%s: %s goroutines, %s of them the runtime's own (hidden; \"system\": true shows them)\n", o.what, comma(len(snap.Goroutines)), comma(v.hidden)))
	} else {
		s.output("console", fmt.Sprintf("%s: %s goroutines\n", o.what, comma(len(snap.Goroutines))))
	}
	return v, nil
}

// progressStart sends progressStart and, until the returned function is called,
// progressUpdate with the time spent. The function sends progressEnd.
func (s *session) progressStart(title, message string) func(string) {
	if !s.client.SupportsProgressReporting {
		return func(string) {}
	}
	s.progress++
	id := fmt.Sprintf("gorigin-%d", s.progress)
	s.w.send(&godap.ProgressStartEvent{Event: s.event("progressStart"), Body: godap.ProgressStartEventBody{ProgressId: id, Title: title, Message: message}})
	stop := make(chan struct{})
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				s.w.send(&godap.ProgressUpdateEvent{Event: s.event("progressUpdate"),
					Body: godap.ProgressUpdateEventBody{ProgressId: id, Message: fmt.Sprintf("%s (%.1f s)", message, time.Since(start).Seconds())}})
			}
		}
	}()
	return func(msg string) {
		close(stop)
		<-done
		s.w.send(&godap.ProgressEndEvent{Event: s.event("progressEnd"), Body: godap.ProgressEndEventBody{ProgressId: id, Message: msg}})
	}
}

// show makes v the current view.
func (s *session) show(v *view) {
	s.prev, s.cur = s.cur, v
}

// resnap takes a new snapshot and shows it; the IDE is told with a stopped event.
func (s *session) resnap(reason string) error {
	v, err := s.take(s.opened)
	if err != nil {
		s.output("stderr", fmt.Sprintf("gorigin: a new snapshot failed: %v; still showing the previous one\n", err))
		s.stopped(reason)
		return err
	}
	s.show(v)
	s.stopped(reason)
	return nil
}

// stopped tells the IDE that a (new) snapshot is there to look at.
func (s *session) stopped(reason string) {
	v := s.cur
	body := godap.StoppedEventBody{Reason: reason, AllThreadsStopped: true,
		Description: "snapshot", Text: fmt.Sprintf("%s goroutines at %s", comma(len(v.snap.Goroutines)), v.snap.Source.TakenAt.Local().Format("15:04:05"))}
	if len(v.threads) > 0 {
		body.ThreadId = v.threads[0].id
	}
	s.w.send(&godap.StoppedEvent{Event: s.event("stopped"), Body: body})
}
