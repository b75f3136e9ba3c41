package motokano

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The socket speaks newline-delimited JSON-RPC 2.0, one request a line.

// maxLine bounds one request line; a longer one ends the connection.
const maxLine = 1 << 20

// Methods served on the socket.
const (
	methodList  = "tools/list"
	methodCall  = "tools/call"
	methodPanic = "session/panic"
)

// Error codes: JSON-RPC's own, then ningen's (-32000 to -32099).
const (
	codeParse          = -32700
	codeInvalidRequest = -32600
	codeNoMethod       = -32601
	codeInvalidParams  = -32602
	codeInternal       = -32603
	codeEnding         = -32000 // the kill sequence has started
	codeRefused        = -32001 // the peer is not a holder of this session
	codeBusy           = -32002 // too many connections
	codeToolFailed     = -32003 // the tool could not be run at all
)

// RPCError is an error reply from the socket.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return fmt.Sprintf("%s (code %d)", e.Message, e.Code) }

// ErrEnding says that the session's kill sequence has started: no tool is
// served any more.
var ErrEnding = errors.New("the session is ending: its kill sequence has started")

// Is lets errors.Is(err, ErrEnding) find an ending reply.
func (e *RPCError) Is(target error) bool { return target == ErrEnding && e.Code == codeEnding }

type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// notification reports a request without an id: it gets no reply.
func (r *request) notification() bool { return r.ID == nil }

type callParams struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"` // accepted and ignored: tools take no input yet
}

var errLineTooLong = fmt.Errorf("request line longer than %d bytes", maxLine)

// readLine returns the next line without its newline. A line longer than
// maxLine is errLineTooLong; the connection cannot be resynchronised after
// it and is closed.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > maxLine+1 {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if err == nil {
			return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				return line, nil // a last request without its newline
			}
			return nil, err
		}
	}
}

// parseRequest checks one line. A nil *RPCError means req is a valid
// request; otherwise the error is the reply (to a null id when none could
// be read).
func parseRequest(line []byte) (req request, id json.RawMessage, rerr *RPCError) {
	if err := json.Unmarshal(line, &req); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return req, nil, &RPCError{codeInvalidRequest, "invalid request: " + ute.Field + " has the wrong type"}
		}
		return req, nil, &RPCError{codeParse, "parse error: not a JSON object"}
	}
	if req.ID != nil && !validID(req.ID) {
		return req, nil, &RPCError{codeInvalidRequest, "invalid request: id must be a number, a string or null"}
	}
	if req.JSONRPC != "2.0" {
		return req, req.ID, &RPCError{codeInvalidRequest, `invalid request: want "jsonrpc": "2.0"`}
	}
	if req.Method == "" {
		return req, req.ID, &RPCError{codeInvalidRequest, "invalid request: no method"}
	}
	return req, req.ID, nil
}

func validID(id json.RawMessage) bool {
	switch id[0] {
	case '"', 'n':
		return true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	return false
}

// envelope writes the start of a reply up to its result's value.
func envelope(id json.RawMessage) []byte {
	if id == nil {
		id = json.RawMessage("null")
	}
	b := append([]byte(`{"jsonrpc":"2.0","id":`), id...)
	return append(b, `,"result":`...)
}

func resultLine(id json.RawMessage, result any) []byte {
	val, err := json.Marshal(result)
	if err != nil {
		return errorLine(id, &RPCError{codeToolFailed, "reply: " + err.Error()})
	}
	b := append(envelope(id), val...)
	return append(b, "}\n"...)
}

func errorLine(id json.RawMessage, e *RPCError) []byte {
	if id == nil {
		id = json.RawMessage("null")
	}
	val, _ := json.Marshal(e)
	b := append([]byte(`{"jsonrpc":"2.0","id":`), id...)
	b = append(b, `,"error":`...)
	b = append(b, val...)
	return append(b, "}\n"...)
}

// ToolInfo is one entry of tools/list, in MCP's shape.
type ToolInfo struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	InputSchema map[string]any `json:"inputSchema"`
}

// inputSchema is every tool's: no arguments.
func inputSchema() map[string]any {
	return map[string]any{"type": "object", "properties": map[string]any{}}
}

// Content is one piece of a tool result, in MCP's shape.
type Content struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Result is a tools/call result, in MCP's shape.
type Result struct {
	Content []Content `json:"content"`
	IsError bool      `json:"isError"`
}

// The static reply is written in three parts: textHead (after the
// envelope), the value as a JSON string body, textTail.
const (
	textHead = `{"content":[{"type":"text","text":"`
	textTail = `"}],"isError":false}}` + "\n"
)

// escaper writes a value as the body of a JSON string. It never holds the
// value: it keeps an offset into it and, for the one byte being escaped, at
// most six bytes of escape sequence in a fixed array that wipe zeroes.
// The value must be valid UTF-8 (checked at start), so only '"', '\\' and
// control bytes need escapes and every other byte passes as it is.
type escaper struct {
	off    int
	esc    [6]byte
	escLen int
	escOff int
}

func needsEscape(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }

const hexDigits = "0123456789abcdef"

func (e *escaper) escape(c byte) {
	e.escOff = 0
	switch c {
	case '"', '\\':
		e.esc[0], e.esc[1], e.escLen = '\\', c, 2
	case '\n':
		e.esc[0], e.esc[1], e.escLen = '\\', 'n', 2
	case '\r':
		e.esc[0], e.esc[1], e.escLen = '\\', 'r', 2
	case '\t':
		e.esc[0], e.esc[1], e.escLen = '\\', 't', 2
	default:
		e.esc = [6]byte{'\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf]}
		e.escLen = 6
	}
}

// next returns the next bytes to write, which are either a run of value
// bytes that need no escape (a subslice of value, not a copy) or the rest
// of an escape sequence; nil when the value is done.
func (e *escaper) next(value []byte) []byte {
	if e.escOff < e.escLen {
		return e.esc[e.escOff:e.escLen]
	}
	if e.off == len(value) {
		return nil
	}
	if c := value[e.off]; needsEscape(c) {
		e.escape(c)
		e.off++
		return e.esc[:e.escLen]
	}
	j := e.off
	for j < len(value) && !needsEscape(value[j]) {
		j++
	}
	return value[e.off:j]
}

// wrote records that n bytes of what next returned were written.
func (e *escaper) wrote(n int) {
	if e.escOff < e.escLen {
		e.escOff += n
		return
	}
	e.off += n
}

func (e *escaper) wipe() { e.esc, e.escLen, e.escOff = [6]byte{}, 0, 0 }
