package motokano

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestMCPMessages feeds the stdio server the messages a client may send,
// well-formed or not, and checks each answer. The SDK clients in
// session_linux_test.go cover the happy path end to end.
func TestMCPMessages(t *testing.T) {
	tools := []ToolInfo{{Name: "header", Description: "d", InputSchema: inputSchema()}}
	cases := []struct {
		name string
		in   string
		want string // the reply, "" for none
	}{
		{"initialize, a revision it speaks", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`,
			`{"id":1,"jsonrpc":"2.0","result":{"capabilities":{"tools":{}},"instructions":` + quote(mcpInstructions) + `,"protocolVersion":"2025-06-18","serverInfo":{"name":"ningen","version":"v9"}}}`},
		{"initialize, a revision it does not", `{"jsonrpc":"2.0","id":"a","method":"initialize","params":{"protocolVersion":"1999-01-01"}}`,
			`{"id":"a","jsonrpc":"2.0","result":{"capabilities":{"tools":{}},"instructions":` + quote(mcpInstructions) + `,"protocolVersion":"` + mcpVersions[0] + `","serverInfo":{"name":"ningen","version":"v9"}}}`},
		{"ping", `{"jsonrpc":"2.0","id":2,"method":"ping"}`, `{"id":2,"jsonrpc":"2.0","result":{}}`},
		{"tools/list", `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{}}`,
			`{"id":3,"jsonrpc":"2.0","result":{"tools":[{"description":"d","inputSchema":{"properties":{},"type":"object"},"name":"header"}]}}`},
		{"a notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, ""},
		{"a cancellation of nothing", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}`, ""},
		{"a response", `{"jsonrpc":"2.0","id":4,"result":{}}`, ""},
		{"unknown method", `{"jsonrpc":"2.0","id":5,"method":"resources/list"}`,
			`{"error":{"code":-32601,"message":"method not found: resources/list"},"id":5,"jsonrpc":"2.0"}`},
		{"unknown tool", `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"nope"}}`,
			`{"error":{"code":-32602,"message":"unknown tool: nope"},"id":6,"jsonrpc":"2.0"}`},
		{"a call without a name", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}}`,
			`{"error":{"code":-32602,"message":"tools/call needs the name of a tool"},"id":7,"jsonrpc":"2.0"}`},
		{"not JSON-RPC 2.0", `{"id":8,"method":"ping"}`,
			`{"error":{"code":-32600,"message":"invalid request: want \"jsonrpc\":\"2.0\" and a method"},"id":8,"jsonrpc":"2.0"}`},
		{"not JSON", `{"jsonrpc":`, `{"error":{"code":-32700,"message":"parse error: unexpected end of JSON input"},"id":null,"jsonrpc":"2.0"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			s := &mcpServer{tools: tools, version: "v9", out: &out, inflight: map[string]context.CancelFunc{}}
			s.handle(context.Background(), []byte(tc.in))
			s.calls.Wait()
			got := strings.TrimSuffix(out.String(), "\n")
			if strings.Contains(got, "\n") {
				t.Fatalf("more than one line:\n%s", got)
			}
			if got != "" {
				var v any // re-encode: map keys come out sorted
				if err := json.Unmarshal([]byte(got), &v); err != nil {
					t.Fatalf("reply is not JSON: %v\n%s", err, got)
				}
				b, _ := json.Marshal(v)
				got = string(b)
			}
			if got != tc.want {
				t.Errorf("reply\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
