package motokano

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// escapeAll runs the escaper over value as the socket writer does, with
// writes that take at most step bytes at a time.
func escapeAll(value []byte, step int) []byte {
	var out []byte
	var e escaper
	for {
		chunk := e.next(value)
		if chunk == nil {
			return out
		}
		n := min(len(chunk), max(step, 1))
		out = append(out, chunk[:n]...)
		e.wrote(n)
	}
}

func TestEscaperMatchesJSON(t *testing.T) {
	all := make([]byte, 0, 128)
	for c := range 128 {
		all = append(all, byte(c))
	}
	for _, v := range []string{"", "plain", `q"b\s/`, "\x00\x1f\t\n\r", string(all), "é \u2028 \U0001F600", strings.Repeat(`\"`, 100)} {
		for _, step := range []int{1, 2, 5, 1 << 20} {
			got := escapeAll([]byte(v), step)
			var back string
			if err := json.Unmarshal(append(append([]byte(`"`), got...), '"'), &back); err != nil || back != v {
				t.Errorf("escape(%q) step %d = %q: decodes to %q, %v", v, step, got, back, err)
			}
		}
	}
}

func FuzzEscaper(f *testing.F) {
	f.Add([]byte("Bearer \"x\"\\\n"), 3)
	f.Fuzz(func(t *testing.T, value []byte, step int) {
		if !utf8.Valid(value) {
			return // static values are checked to be UTF-8 at start
		}
		got := escapeAll(value, step%16)
		var back string
		if err := json.Unmarshal(append(append([]byte(`"`), got...), '"'), &back); err != nil || back != string(value) {
			t.Fatalf("escape(%q) = %q: decodes to %q, %v", value, got, back, err)
		}
	})
}

func TestParseRequest(t *testing.T) {
	for _, c := range []struct {
		line string
		code int // 0: valid
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, 0},
		{`{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x"}}`, 0},
		{`{"jsonrpc":"2.0","method":"session/panic"}`, 0},
		{`{"jsonrpc":"2.0","id":null,"method":"m"}`, 0},
		{`not json`, codeParse},
		{`[{"jsonrpc":"2.0","id":1,"method":"m"}]`, codeInvalidRequest},
		{`{"jsonrpc":"1.0","id":1,"method":"m"}`, codeInvalidRequest},
		{`{"jsonrpc":"2.0","id":{},"method":"m"}`, codeInvalidRequest},
		{`{"jsonrpc":"2.0","id":1}`, codeInvalidRequest},
		{`{"jsonrpc":"2.0","id":1,"method":5}`, codeInvalidRequest},
	} {
		_, _, rerr := parseRequest([]byte(c.line))
		switch {
		case c.code == 0 && rerr != nil:
			t.Errorf("%s: %v", c.line, rerr)
		case c.code != 0 && (rerr == nil || rerr.Code != c.code):
			t.Errorf("%s: got %v, want code %d", c.line, rerr, c.code)
		}
	}
}

func TestReadLineBound(t *testing.T) {
	in := strings.Repeat("x", maxLine+10) + "\n" + `{"ok":1}` + "\n"
	br := bufio.NewReaderSize(strings.NewReader(in), 64<<10)
	if _, err := readLine(br); !errors.Is(err, errLineTooLong) {
		t.Fatalf("a line over the bound: %v", err)
	}
	br = bufio.NewReaderSize(strings.NewReader("a\r\nb"), 16)
	for _, want := range []string{"a", "b"} {
		line, err := readLine(br)
		if err != nil || string(line) != want {
			t.Fatalf("got %q, %v; want %q", line, err, want)
		}
	}
	if _, err := readLine(br); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v", err)
	}
}

// FuzzReadRequest feeds any bytes to the socket's reader, as a client
// could: every line is bounded, every verdict is a valid request or an
// error reply that is itself one line of valid JSON-RPC.
func FuzzReadRequest(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}` + "\n" + `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a"}}`))
	f.Add([]byte("{\"id\":1e999}\n\n\r\n[]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		for {
			line, err := readLine(br)
			if err != nil {
				return
			}
			if len(line) > maxLine {
				t.Fatalf("line of %d bytes", len(line))
			}
			req, id, rerr := parseRequest(line)
			if rerr == nil {
				if req.JSONRPC != "2.0" || req.Method == "" {
					t.Fatalf("accepted %q", line)
				}
				continue
			}
			reply := errorLine(id, rerr)
			if bytes.Count(reply, []byte("\n")) != 1 || !json.Valid(reply) {
				t.Fatalf("reply %q to %q", reply, line)
			}
		}
	})
}
