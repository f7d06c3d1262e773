//go:build tools

// Keeps the Pulumi CLI's main package in this module's requirements, so
// `go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi` builds it at the
// version pinned in go.mod.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
