package motokano

import (
	"context"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ServeMCP is `ningen mcp`: a Model Context Protocol server on t (stdio
// for an MCP client) whose tools are the session's, called through the
// socket at socket. It returns when the client hangs up.
func ServeMCP(ctx context.Context, socket, version string, t mcp.Transport) error {
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
	srv := mcp.NewServer(&mcp.Implementation{Name: "ningen", Version: version}, &mcp.ServerOptions{
		Instructions: "Tools of a ningen session: each returns text its user declared, or the output of a command run with secrets (every secret value in it masked as ***). Values stop working when the session ends.",
	})
	for _, info := range tools {
		srv.AddTool(&mcp.Tool{Name: info.Name, Description: info.Description, InputSchema: info.InputSchema}, callTool(c, info.Name))
	}
	return srv.Run(ctx, t)
}

// callTool returns the result of one tool: its text, or a tool error for
// a tool that failed, could not run, or a session that is ending.
// Only a broken socket is a protocol error.
func callTool(c *Client, name string) mcp.ToolHandler {
	return func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res, err := c.Call(ctx, name)
		var re *RPCError
		if errors.As(err, &re) {
			return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "ningen: " + re.Message}}}, nil
		}
		if err != nil {
			return nil, err
		}
		out := &mcp.CallToolResult{IsError: res.IsError}
		for _, ct := range res.Content {
			out.Content = append(out.Content, &mcp.TextContent{Text: ct.Text})
		}
		if out.Content == nil {
			out.Content = []mcp.Content{}
		}
		return out, nil
	}
}
