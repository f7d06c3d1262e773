# shellcheck shell=bash
# Managed by conversational-platform (templates/host/steps/verify.sh).
# Deploy step "verify": both API instances answer /health, then the API does
# through Caddy and TLS on this host, whatever DNS says elsewhere; the step
# prints an instance's /health/details (which only the host can read). With Let's
# Encrypt (TLS_ISSUER=letsencrypt) the certificate can only come once API_HOST
# points at this server: when a short try fails and the name does not resolve
# to an address of this host, the step says "certificate pending" and
# succeeds, rather than wait for an issuance that cannot happen (a new zone
# not delegated yet); the next deploy checks again. A host behind NAT, whose
# public address is on no interface, passes by the short try once its
# certificate exists.
# Inputs: API_HOST, TLS_ISSUER (letsencrypt or internal).
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=verify

for port in 8081 8082; do
  if ! curl -fsS --retry 10 --retry-delay 2 --retry-all-errors --max-time 5 "http://127.0.0.1:$port/health" >/dev/null; then
    echo "the API instance on 127.0.0.1:$port is not healthy:" >&2
    docker ps --all --format '{{.Names}} {{.Status}}' >&2
    exit 1
  fi
done
health=$(curl -fsS --max-time 5 http://127.0.0.1:8081/health/details)

# through_caddy TRIES [--cacert FILE]: /health through Caddy and TLS here (a
# bare status: the step prints the instance's details instead); a first
# certificate can take a minute.
through_caddy() {
  local tries=$1
  shift
  curl -fsS -o /dev/null --retry "$tries" --retry-delay 5 --retry-all-errors --max-time 10 \
    --resolve "$API_HOST:443:127.0.0.1" "$@" "https://$API_HOST/health"
}

if [ "$TLS_ISSUER" = internal ]; then
  # Caddy's own CA, kept where the caddy user's data lives.
  through_caddy 30 --cacert /var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt
  echo "$health"
  exit 0
fi
if through_caddy 3 2>/dev/null; then
  echo "$health"
  exit 0
fi
if resolved=$(certificate_pending "$API_HOST"); then
  echo "certificate pending: $API_HOST resolves to $resolved here, not to an address of this server."
  echo "Let's Encrypt issues it once DNS points here (a new Vultr zone needs your registrar's name servers set to ns1.vultr.com and ns2.vultr.com); Caddy keeps trying by itself, and the next deploy checks again."
  echo "$health"
  exit 0
fi
through_caddy 30
echo "$health"
