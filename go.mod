module github.com/ningen-shikkaku/ningen

go 1.26.8

require (
	github.com/alecthomas/kong v1.17.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/creack/pty v1.1.24 // indirect
	github.com/seccomp/libseccomp-golang v0.11.1 // indirect
	golang.org/x/net v0.63.0 // indirect
)
