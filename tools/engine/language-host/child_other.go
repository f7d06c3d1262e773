//go:build !linux

package main

import "os/exec"

// Only Linux can tie a child's life to its parent's; elsewhere the CLI's own
// cancellation (the context passed to exec.CommandContext) stops node.
func dieWithParent(*exec.Cmd) {}
