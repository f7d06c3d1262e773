#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016,SC2030,SC2031 # stubs run later: their single-quoted bodies expand then; each test exports its own settings
# The monitoring step (templates/host/steps/monitoring.sh) with apt, dpkg,
# systemd, curl and the packages' checkers stubbed and install_file
# recording: the drop-ins before the packages, each file checked by its own
# tool, the rules folder kept to what the deploy gives, and each service
# restarted, reloaded or left alone.

bats_require_minimum_version 1.5.0

STEP="$BATS_TEST_DIRNAME/../../../templates/host/steps/monitoring.sh"
DROPINS="/etc/systemd/system/prometheus.service.d/platform.conf /etc/systemd/system/prometheus-alertmanager.service.d/platform.conf /etc/systemd/system/prometheus-node-exporter.service.d/platform.conf /etc/systemd/system/prometheus-blackbox-exporter.service.d/platform.conf"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  use_stubs
  export RULES_DIR="$BATS_TEST_TMPDIR/rules"
  mkdir -p "$RULES_DIR"
  # MISSING: packages not installed yet.
  stub dpkg-query 'case " $MISSING " in *" ${!#} "*) echo "deinstall ok config-files" ;; *) echo "install ok installed" ;; esac'
  stub apt-get
  stub install
  stub sleep
  # ACTIVE: the services run. SILENT: a port that never answers.
  stub systemctl 'case $1 in is-active) [ -n "$ACTIVE" ] ;; esac'
  stub curl 'case "$*" in *"127.0.0.1:${SILENT:-none}/"*) exit 7 ;; esac'
}

monitoring_step() {
  local dir
  dir=$(stage recorded)
  run env PLATFORM_STAGE="$dir" \
    PROMETHEUS_DROPIN_B64="$(echo '[Service]' | base64 -w0)" ALERTMANAGER_DROPIN_B64="$(echo '[Service]' | base64 -w0)" \
    NODE_EXPORTER_DROPIN_B64="$(echo '[Service]' | base64 -w0)" BLACKBOX_DROPIN_B64="$(echo '[Service]' | base64 -w0)" \
    PROMETHEUS_YML_B64="$(echo 'global: {}' | base64 -w0)" ALERTMANAGER_YML_B64="$(echo 'route: {}' | base64 -w0)" \
    BLACKBOX_YML_B64="$(echo 'modules: {}' | base64 -w0)" METRICS_SCRIPT_B64="$(echo 'exit 0' | base64 -w0)" \
    METRICS_SERVICE_B64="$(echo '[Service]' | base64 -w0)" METRICS_TIMER_B64="$(echo '[Timer]' | base64 -w0)" \
    DASHBOARD_B64="$(echo '<html></html>' | base64 -w0)" RULE_FILES="" "$@" bash "$STEP"
}

# line_of TEXT: the number of the first call that starts with TEXT.
line_of() { grep -nF -m1 -- "$1" "$CALLS" | cut -d: -f1; }

@test "a new host: the drop-ins first, then the missing packages keeping our files, then each file checked, each service restarted and answering" {
  monitoring_step MISSING="prometheus prometheus-blackbox-exporter" INSTALLED="$DROPINS /etc/prometheus/prometheus.yml"
  [ "$status" -eq 0 ]
  [ "$(tail -1 <<<"$output")" = "monitoring: prometheus, alertmanager, node_exporter and blackbox exporter on 127.0.0.1" ]
  grep -qx "monitoring: installed packages: prometheus prometheus-blackbox-exporter" <<<"$output"
  # Every drop-in, and systemd told, before apt starts a service.
  [ "$(line_of "install_file /etc/systemd/system/prometheus-blackbox-exporter.service.d/platform.conf")" -lt "$(line_of "systemctl daemon-reload")" ]
  [ "$(line_of "systemctl daemon-reload")" -lt "$(line_of "apt-get -o DPkg::Lock::Timeout=600 update")" ]
  grep -qxF "apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -y -qq --no-install-recommends prometheus prometheus-blackbox-exporter" "$CALLS"
  # Each file with the checker of the package that reads it.
  grep -qxF "install_file /etc/prometheus/prometheus.yml 0644 root:root promtool check config" "$CALLS"
  grep -qxF "install_file /etc/prometheus/alertmanager.yml 0640 root:prometheus amtool check-config" "$CALLS"
  grep -qxF "install_file /etc/prometheus/blackbox.yml 0644 root:root blackbox_valid" "$CALLS"
  grep -qxF "install_file /usr/local/sbin/platform-textfile-metrics 0755 root:root bash -n" "$CALLS"
  [ "$(grep '^systemctl restart prometheus' "$CALLS")" = "systemctl restart prometheus
systemctl restart prometheus-alertmanager
systemctl restart prometheus-node-exporter
systemctl restart prometheus-blackbox-exporter" ]
  # The host's metrics written at once, then each service asked on its loopback port.
  grep -qxF "systemctl start platform-textfile-metrics.service" "$CALLS"
  [ "$(grep -o 'http://127.0.0.1:[0-9]*/[^ ]*' "$CALLS")" = "http://127.0.0.1:9090/-/ready
http://127.0.0.1:9093/-/ready
http://127.0.0.1:9100/metrics
http://127.0.0.1:9115/metrics" ]
}

@test "nothing changed, everything running: no apt, no daemon-reload, no service restarted or reloaded" {
  monitoring_step ACTIVE=1
  [ "$status" -eq 0 ]
  [ "$(grep -cE '^apt-get|daemon-reload|^systemctl (restart|reload) prometheus' "$CALLS")" -eq 0 ]
}

@test "only prometheus.yml changed: Prometheus reloaded (its series kept), nothing restarted" {
  monitoring_step ACTIVE=1 INSTALLED=/etc/prometheus/prometheus.yml
  [ "$status" -eq 0 ]
  [ "$(grep -E '^systemctl (restart|reload) prometheus' "$CALLS")" = "systemctl reload prometheus" ]
}

@test "a changed Alertmanager configuration: Alertmanager reloaded, Prometheus left alone" {
  monitoring_step ACTIVE=1 INSTALLED=/etc/prometheus/alertmanager.yml
  [ "$status" -eq 0 ]
  [ "$(grep -E '^systemctl (restart|reload) prometheus' "$CALLS")" = "systemctl reload prometheus-alertmanager" ]
}

@test "a changed dashboard: installed as Prometheus's console, no service restarted or reloaded (it is read at each request)" {
  monitoring_step ACTIVE=1 INSTALLED=/etc/prometheus/consoles/dashboard.html
  [ "$status" -eq 0 ]
  grep -qxF "install_file /etc/prometheus/consoles/dashboard.html 0644 root:root" "$CALLS"
  [ "$(installed dashboard.html)" = "<html></html>" ]
  [ "$(grep -cE '^systemctl (restart|reload) prometheus' "$CALLS")" -eq 0 ]
}

@test "the rules: each given file checked by promtool and installed; one no longer given removed; Prometheus reloaded" {
  echo "groups: []" >"$RULES_DIR/old.yml"
  echo "groups: []" >"$RULES_DIR/host.yml"
  monitoring_step ACTIVE=1 RULE_FILES="host.yml:$(echo 'groups: [host]' | base64 -w0) api.yml:$(echo 'groups: [api]' | base64 -w0)" \
    INSTALLED="$RULES_DIR/api.yml"
  [ "$status" -eq 0 ]
  [ "$(grep '^install_file .*rules' "$CALLS" | sed "s#$BATS_TEST_TMPDIR#TMP#g")" = "install_file TMP/rules/host.yml 0644 root:root promtool check rules
install_file TMP/rules/api.yml 0644 root:root promtool check rules" ]
  [ "$(installed api.yml)" = "groups: [api]" ]
  [ ! -e "$RULES_DIR/old.yml" ]
  [ -e "$RULES_DIR/host.yml" ]
  grep -qx "monitoring: removed $RULES_DIR/old.yml" <<<"$output"
  [ "$(grep -E '^systemctl (restart|reload) prometheus' "$CALLS")" = "systemctl reload prometheus" ]
}

@test "a rule file whose name is not a plain .yml stops the step before anything is written" {
  monitoring_step ACTIVE=1 RULE_FILES="../evil.yml:$(echo x | base64 -w0)"
  [ "$status" -eq 1 ]
  grep -qF 'rule file "../evil.yml": names are lower case, digits and -, then .yml' <<<"$output"
  [ "$(calls)" = "" ]
}

@test "a service that never answers on its port fails the step, naming it and its journal" {
  monitoring_step ACTIVE=1 SILENT=9093
  [ "$status" -eq 1 ]
  grep -qF "prometheus-alertmanager does not answer on http://127.0.0.1:9093/-/ready; see: journalctl -u prometheus-alertmanager" <<<"$output"
  [ "$(grep -c '^sleep 1$' "$CALLS")" -eq 60 ]
}
