package motokano

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// The Model Context Protocol server of `ningen mcp` is written here rather
// than taken from an SDK: it needs five methods, and an SDK linked into the
// one ningen binary costs every `ningen run` its package start-up (about a
// millisecond for the official Go SDK, which brings HTTP, OAuth and JSON
// Schema with it). The tests drive it with that SDK's client.

// mcpVersions are the protocol revisions the server speaks, newest first.
var mcpVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

const mcpInstructions = "Tools of a ningen session: each returns text its user declared, or the output of a command run with secrets (every secret value in it masked as ***). Values stop working when the session ends."

// mcpMessage is any JSON-RPC 2.0 message from the client. A request has an
// id and a method, a notification a method only; a response (the client
// answering a request, which this server never makes) has neither.
type mcpMessage struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// ServeMCP is `ningen mcp`: a Model Context Protocol server over stdio (in
// and out, one JSON-RPC message per line) whose tools are the session's,
// called through the socket at socket. It returns when the client hangs
// up, once the calls in flight have been cancelled and have returned.
func ServeMCP(ctx context.Context, socket, version string, in io.Reader, out io.Writer) error {
	c, err := Dial(socket)
	if err != nil {
		return err
	}
	defer c.Close()
	tools, err := c.List(ctx)
	if IsRefused(err) {
		return fmt.Errorf("the session refused this process (%w): `ningen mcp` must run inside the session, started by a process of it", err)
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &mcpServer{client: c, tools: tools, version: version, out: out, inflight: map[string]context.CancelFunc{}}
	defer s.calls.Wait()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		s.handle(ctx, sc.Bytes())
	}
	return sc.Err()
}

type mcpServer struct {
	client  *Client
	tools   []ToolInfo
	version string

	writeMu sync.Mutex
	out     io.Writer

	mu       sync.Mutex
	inflight map[string]context.CancelFunc // by request id, for notifications/cancelled
	calls    sync.WaitGroup
}

func (s *mcpServer) handle(ctx context.Context, line []byte) {
	var m mcpMessage
	if err := json.Unmarshal(line, &m); err != nil {
		s.fail(nil, codeParse, "parse error: "+err.Error())
		return
	}
	isRequest := len(m.ID) > 0 && string(m.ID) != "null"
	switch {
	case m.Method == "" && isRequest && m.JSONRPC == "2.0":
		return // a response to a request this server never made
	case m.JSONRPC != "2.0" || m.Method == "":
		s.fail(m.ID, codeInvalidRequest, `invalid request: want "jsonrpc":"2.0" and a method`)
		return
	case !isRequest:
		s.notified(m)
		return
	}
	switch m.Method {
	case "initialize":
		s.reply(m.ID, s.initialize(m.Params))
	case "ping":
		s.reply(m.ID, struct{}{})
	case methodList:
		s.reply(m.ID, map[string]any{"tools": s.tools})
	case methodCall:
		s.call(ctx, m)
	default:
		s.fail(m.ID, codeNoMethod, "method not found: "+m.Method)
	}
}

// initialize agrees on the client's protocol revision when the server
// speaks it, and offers its newest otherwise.
func (s *mcpServer) initialize(params json.RawMessage) any {
	var p struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	_ = json.Unmarshal(params, &p)
	v := mcpVersions[0]
	if slices.Contains(mcpVersions, p.ProtocolVersion) {
		v = p.ProtocolVersion
	}
	return map[string]any{
		"protocolVersion": v,
		"capabilities":    map[string]any{"tools": map[string]any{}},
		"serverInfo":      map[string]string{"name": "ningen", "version": s.version},
		"instructions":    mcpInstructions,
	}
}

// notified handles a notification: only a cancellation needs anything.
func (s *mcpServer) notified(m mcpMessage) {
	if m.Method != "notifications/cancelled" {
		return
	}
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if json.Unmarshal(m.Params, &p) != nil {
		return
	}
	s.mu.Lock()
	cancel := s.inflight[string(p.RequestID)]
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// call runs one tools/call in its own goroutine: a tool may take its whole
// timeout, and the client may go on meanwhile.
func (s *mcpServer) call(ctx context.Context, m mcpMessage) {
	var p struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(m.Params, &p); err != nil || p.Name == "" {
		s.fail(m.ID, codeInvalidParams, "tools/call needs the name of a tool")
		return
	}
	if !slices.ContainsFunc(s.tools, func(t ToolInfo) bool { return t.Name == p.Name }) {
		s.fail(m.ID, codeInvalidParams, "unknown tool: "+p.Name)
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	key := string(m.ID)
	s.mu.Lock()
	s.inflight[key] = cancel
	s.mu.Unlock()
	s.calls.Add(1)
	go func() {
		defer s.calls.Done()
		defer func() {
			s.mu.Lock()
			delete(s.inflight, key)
			s.mu.Unlock()
			cancel()
		}()
		res, err := s.client.Call(ctx, p.Name)
		var re *RPCError
		switch {
		case errors.As(err, &re): // the session answered: a tool error, not a protocol one
			s.reply(m.ID, Result{Content: []Content{{Type: "text", Text: "ningen: " + re.Message}}, IsError: true})
		case ctx.Err() != nil:
			// cancelled: the client expects no answer
		case err != nil:
			s.fail(m.ID, codeInternal, err.Error())
		default:
			if res.Content == nil {
				res.Content = []Content{}
			}
			s.reply(m.ID, res)
		}
	}()
}

func (s *mcpServer) reply(id json.RawMessage, result any) {
	s.send(map[string]any{"jsonrpc": "2.0", "id": id, "result": result})
}

func (s *mcpServer) fail(id json.RawMessage, code int, msg string) {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	s.send(map[string]any{"jsonrpc": "2.0", "id": id, "error": RPCError{Code: code, Message: msg}})
}

// send writes one message as one line. A client that stopped reading ends
// the server through its closed stdin, so a write error is dropped here.
func (s *mcpServer) send(msg any) {
	b, err := json.Marshal(msg)
	if err != nil {
		return
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_, _ = s.out.Write(append(b, '\n'))
}
