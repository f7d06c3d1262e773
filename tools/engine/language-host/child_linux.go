package main

import (
	"os/exec"
	"syscall"
)

// A node process must not outlive its language host: the CLI stops the host
// when an update ends or is cancelled, and node would go on running (and
// spending CPU) with nobody to report to.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
