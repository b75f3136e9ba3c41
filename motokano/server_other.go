//go:build !linux

package motokano

import "github.com/ningen-shikkaku/ningen/vault"

// Server is the tool server; off Linux it cannot start.
type Server struct{ path string }

// Start fails off Linux: the holder check needs SO_PEERCRED and the
// session's process tree.
func Start(*Config, []*vault.Secret, Options) (*Server, error) { return nil, ErrUnsupported }

// Serve does nothing off Linux.
func (s *Server) Serve(Holders) {}

// Close does nothing off Linux.
func (s *Server) Close() error { return nil }

// RunToolRunner fails off Linux.
func RunToolRunner(string) error { return ErrUnsupported }
