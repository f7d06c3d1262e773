# shellcheck shell=bash
# Managed by conversational-platform (templates/host/steps/monitoring.sh).
# Deploy step "monitoring": Debian's Prometheus, Alertmanager, node_exporter
# and blackbox exporter, each on the host's loopback only and bounded in
# memory and CPU (their systemd drop-ins, installed before the packages so
# no first start listens anywhere else); their configuration and the alert
# rules, each checked by the packages' own tools before it is installed; and
# the timer that writes the host's own metrics for node_exporter.
# Inputs (base64): PROMETHEUS_DROPIN_B64, ALERTMANAGER_DROPIN_B64,
# NODE_EXPORTER_DROPIN_B64, BLACKBOX_DROPIN_B64, PROMETHEUS_YML_B64,
# ALERTMANAGER_YML_B64, BLACKBOX_YML_B64, METRICS_SCRIPT_B64,
# METRICS_SERVICE_B64, METRICS_TIMER_B64, DASHBOARD_B64; RULE_FILES:
# "NAME.yml:BASE64 ..." (empty: no rules); ALERTMANAGER_SECRET_FILES:
# "NAME:BASE64 ..." (the receivers' secrets that alertmanager.yml reads from
# files; may be empty).
# shellcheck source=templates/host/lib.sh
. "$PLATFORM_STAGE/lib.sh"
LOG_PREFIX=monitoring
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter)
# unit:input of each package's service and its drop-in.
SERVICES=(
  prometheus:PROMETHEUS_DROPIN_B64
  prometheus-alertmanager:ALERTMANAGER_DROPIN_B64
  prometheus-node-exporter:NODE_EXPORTER_DROPIN_B64
  prometheus-blackbox-exporter:BLACKBOX_DROPIN_B64
)
TEXTFILE_DIR=/var/lib/prometheus/node-exporter
# Prometheus reads every *.yml here (prometheus.yml's rule_files); tests point it elsewhere.
RULES_DIR=${RULES_DIR:-/etc/prometheus/rules}
# Prometheus's console folder (--web.console.templates in its drop-in), where the dashboard goes.
CONSOLES_DIR=/etc/prometheus/consoles
# Services to restart (their command line or limits changed) or reload (their files did).
declare -A restart=() reload=()

# 0. The rule files' names, before anything changes: each becomes a path.
for entry in $RULE_FILES; do
  name=${entry%%:*}
  [[ "$name" =~ ^[a-z0-9-]+\.yml$ ]] || fail "rule file \"$name\": names are lower case, digits and -, then .yml"
done

# 1. The drop-ins and the metrics timer's units, so systemd knows them before any start.
units=0
for pair in "${SERVICES[@]}"; do
  unit=${pair%%:*}
  decode "${pair#*:}" "$PLATFORM_STAGE/$unit.conf"
  if install_file "$PLATFORM_STAGE/$unit.conf" "/etc/systemd/system/$unit.service.d/platform.conf" 0644 root:root; then
    units=1
    restart[$unit]=1
  fi
done
decode METRICS_SERVICE_B64 "$PLATFORM_STAGE/platform-textfile-metrics.service"
decode METRICS_TIMER_B64 "$PLATFORM_STAGE/platform-textfile-metrics.timer"
for file in platform-textfile-metrics.service platform-textfile-metrics.timer; do
  install_file "$PLATFORM_STAGE/$file" "/etc/systemd/system/$file" 0644 root:root && units=1
done
if [ "$units" = 1 ]; then systemctl daemon-reload; fi

# 2. The packages: started by their installation, already on loopback.
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq --error-on=any
  # confold: the configuration files this step installs stay, on this install and every upgrade.
  apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "installed packages: ${missing[*]}"
fi

# 3. The textfile metrics' writer and its folder (node_exporter reads, root writes).
install -d -m 0755 "$TEXTFILE_DIR"
decode METRICS_SCRIPT_B64 "$PLATFORM_STAGE/textfile-metrics.sh"
install_file "$PLATFORM_STAGE/textfile-metrics.sh" /usr/local/sbin/platform-textfile-metrics 0755 root:root bash -n || true

# 4. The alert rules, then the files that name them, each checked first.
install -d -m 0755 "$RULES_DIR"
kept=()
for entry in $RULE_FILES; do
  name=${entry%%:*}
  printf '%s' "${entry#*:}" | base64 -d >"$PLATFORM_STAGE/$name"
  install_file "$PLATFORM_STAGE/$name" "$RULES_DIR/$name" 0644 root:root promtool check rules && reload[prometheus]=1
  kept+=("$name")
done
for file in "$RULES_DIR"/*.yml; do
  [ -e "$file" ] || continue
  case " ${kept[*]} " in *" $(basename "$file") "*) continue ;; esac
  rm -f "$file"
  log "removed $file"
  reload[prometheus]=1
done
# blackbox_valid FILE: the exporter's own check, its log shown only when it fails.
blackbox_valid() {
  local out
  out=$(prometheus-blackbox-exporter --config.check --config.file="$1" 2>&1) && return 0
  printf '%s\n' "$out" >&2
  return 1
}
decode PROMETHEUS_YML_B64 "$PLATFORM_STAGE/prometheus.yml"
decode ALERTMANAGER_YML_B64 "$PLATFORM_STAGE/alertmanager.yml"
decode BLACKBOX_YML_B64 "$PLATFORM_STAGE/blackbox.yml"
install_file "$PLATFORM_STAGE/prometheus.yml" /etc/prometheus/prometheus.yml 0644 root:root promtool check config && reload[prometheus]=1
# The receivers' secrets first, so the configuration that names them finds
# them: prometheus (Alertmanager's user) alone reads them.
SECRETS_DIR=/etc/prometheus/alertmanager-secrets
install -d -m 0700 -o prometheus -g prometheus "$SECRETS_DIR"
kept_secrets=()
for entry in ${ALERTMANAGER_SECRET_FILES:-}; do
  name=${entry%%:*}
  [[ "$name" =~ ^[a-z0-9-]+$ ]] || fail "alertmanager secret \"$name\": names are lower case, digits and -"
  printf '%s' "${entry#*:}" | base64 -d >"$PLATFORM_STAGE/secret-$name"
  install_file "$PLATFORM_STAGE/secret-$name" "$SECRETS_DIR/$name" 0600 prometheus:prometheus &&
    reload[prometheus-alertmanager]=1
  rm -f "$PLATFORM_STAGE/secret-$name"
  kept_secrets+=("$name")
done
for file in "$SECRETS_DIR"/*; do
  [ -e "$file" ] || continue
  case " ${kept_secrets[*]} " in *" $(basename "$file") "*) continue ;; esac
  rm -f "$file"
  log "removed $file"
  reload[prometheus-alertmanager]=1
done
# Receivers' webhook URLs may be in it: prometheus (Alertmanager's user) reads, nobody else.
install_file "$PLATFORM_STAGE/alertmanager.yml" /etc/prometheus/alertmanager.yml 0640 root:prometheus amtool check-config && reload[prometheus-alertmanager]=1
install_file "$PLATFORM_STAGE/blackbox.yml" /etc/prometheus/blackbox.yml 0644 root:root blackbox_valid && reload[prometheus-blackbox-exporter]=1
# The dashboard: Prometheus reads a console at each request, so nothing restarts for it.
decode DASHBOARD_B64 "$PLATFORM_STAGE/dashboard.html"
install_file "$PLATFORM_STAGE/dashboard.html" "$CONSOLES_DIR/dashboard.html" 0644 root:root || true

# 5. Each service on what was just installed.
for pair in "${SERVICES[@]}"; do
  unit=${pair%%:*}
  systemctl enable --quiet "$unit"
  if [ -n "${restart[$unit]:-}" ] || ! systemctl is-active --quiet "$unit"; then
    systemctl restart "$unit" || fail "$unit did not start; see: journalctl -u $unit"
  elif [ -n "${reload[$unit]:-}" ]; then
    systemctl reload "$unit" || fail "$unit did not reload; see: journalctl -u $unit"
  fi
done
systemctl enable --quiet platform-textfile-metrics.timer
systemctl restart platform-textfile-metrics.timer
# The host's metrics now, not a minute from now.
systemctl start platform-textfile-metrics.service || log "the host metrics were not written; see: journalctl -u platform-textfile-metrics"

# 6. Each answers on its loopback port (a minute at most: Prometheus replays its write-ahead log first).
for check in prometheus:9090/-/ready prometheus-alertmanager:9093/-/ready prometheus-node-exporter:9100/metrics prometheus-blackbox-exporter:9115/metrics; do
  for _ in $(seq 60); do
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${check#*:}" && continue 2
    sleep 1
  done
  fail "${check%%:*} does not answer on http://127.0.0.1:${check#*:}; see: journalctl -u ${check%%:*}"
done
echo "monitoring: prometheus, alertmanager, node_exporter and blackbox exporter on 127.0.0.1"
