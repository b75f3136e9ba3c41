package motokano

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Client calls a session's tool socket. It keeps the connections it opened
// for reuse (the holder check is made once, when a connection is
// accepted) and opens another when all are busy.
type Client struct {
	path string
	mu   sync.Mutex
	idle []*clientConn
	next int
}

type clientConn struct {
	c   net.Conn
	dec *json.Decoder
}

type response struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
}

// Dial connects to the socket at path.
func Dial(path string) (*Client, error) {
	c := &Client{path: path}
	cn, err := c.dial()
	if err != nil {
		return nil, err
	}
	c.put(cn)
	return c, nil
}

func (c *Client) dial() (*clientConn, error) {
	nc, err := net.DialTimeout("unix", c.path, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connect to the session's tools: %w", err)
	}
	return &clientConn{c: nc, dec: json.NewDecoder(nc)}, nil
}

func (c *Client) get() (*clientConn, error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		cn := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return cn, nil
	}
	c.mu.Unlock()
	return c.dial()
}

func (c *Client) put(cn *clientConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = append(c.idle, cn)
}

// Close closes every idle connection.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cn := range c.idle {
		_ = cn.c.Close()
	}
	c.idle = nil
	return nil
}

// List returns the session's tools.
func (c *Client) List(ctx context.Context) ([]ToolInfo, error) {
	var res struct {
		Tools []ToolInfo `json:"tools"`
	}
	if err := c.do(ctx, methodList, nil, &res); err != nil {
		return nil, err
	}
	return res.Tools, nil
}

// Call calls a tool. A tool that ran but failed is a Result with IsError;
// an error is a tool that could not be run, or a session that is ending
// (errors.Is(err, ErrEnding)).
func (c *Client) Call(ctx context.Context, name string) (*Result, error) {
	var res Result
	if err := c.do(ctx, methodCall, callParams{Name: name}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Panic fires the session's kill sequence.
func (c *Client) Panic(ctx context.Context) error {
	return c.do(ctx, methodPanic, nil, nil)
}

// do makes one request on a free connection. A reply that is an error is
// an *RPCError and the connection is reused; anything else wrong drops it.
func (c *Client) do(ctx context.Context, method string, params, result any) error {
	cn, err := c.get()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.next++
	id := c.next
	c.mu.Unlock()
	req := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = cn.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var resp response
	_, err = cn.c.Write(append(line, '\n'))
	if werr := err; werr == nil || errors.Is(werr, syscall.EPIPE) || errors.Is(werr, syscall.ECONNRESET) {
		// After a failed write, a refusal the server sent before it hung
		// up may still be there to read.
		if err = cn.dec.Decode(&resp); err != nil && werr != nil {
			err = werr
		}
	}
	if err == nil && resp.Error == nil && string(resp.ID) != strconv.Itoa(id) {
		err = fmt.Errorf("reply to request %d has id %s", id, resp.ID)
	}
	if err != nil {
		_ = cn.c.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("the session's tool socket: %w", err)
	}
	if resp.Error != nil {
		if string(resp.ID) == "null" || resp.ID == nil {
			_ = cn.c.Close() // a refusal or a broken request: the server hangs up
		} else {
			c.put(cn)
		}
		return resp.Error
	}
	c.put(cn)
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Result, result); err != nil {
		return fmt.Errorf("reply to %s: %w", method, err)
	}
	return nil
}

// IsRefused reports whether err says the socket refused this process.
func IsRefused(err error) bool {
	var re *RPCError
	return errors.As(err, &re) && re.Code == codeRefused
}
