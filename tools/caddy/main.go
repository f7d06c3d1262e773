// Caddy for the tests, the benchmarks and `npm run local`, built from Go
// modules at the version go.mod pins: a current Caddy 2, as a production
// host installs from Caddy's own packages (packageSource "official").
// Debian bookworm ships Caddy 2.6.2, whose reverse proxy was seen to close
// its own upstream connection under a long stream while a deploy replaced
// the other instance (docs/benchmarks.md, "Deploys under load"), so the
// tests must not measure that Caddy. Only the standard modules are linked,
// which is what the official packages contain.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
