package main

// CheckCmd is `ningen check`: which guarantees hold on this host.
type CheckCmd struct {
	JSON bool `name:"json" help:"Print the report as JSON."`
}

// Run prints the report.
func (c *CheckCmd) Run() error { return nil }
