#!/usr/bin/env bats
# shellcheck disable=SC2317,SC2016,SC2030,SC2031 # stubs run later: their single-quoted bodies expand then; each test exports its own settings
# What the platform runs on (templates/host/bootstrap/runtime.sh), with the
# system's commands stubbed and install_file recording: Docker and Compose
# from either package source, the deploy user kept out of the docker group,
# the metadata guard, Caddy and the platform's folders, word for word.

bats_require_minimum_version 1.5.0

# Every package the runtime installs, already installed.
ALL="docker-ce docker-ce-cli containerd.io docker-compose-plugin docker.io docker-compose-v2 caddy"

setup() {
  # shellcheck source=test/templates/bats/stubs.bash
  . "$BATS_TEST_DIRNAME/stubs.bash"
  bootstrap_under_test
  record_installs
  SOURCES="$BATS_TEST_TMPDIR/sources"
  mkdir -p "$SOURCES"
  stub dpkg-query 'case " $INSTALLED_PACKAGES " in *" ${*: -1} "*) echo "install ok installed" ;; esac'
  stub apt-get
  stub apt-cache
  stub systemctl
  stub install
  stub curl
  stub gpg
  # docker: NO_ENGINE, NO_COMPOSE make it fail those checks.
  stub docker 'case "$1 $2" in "info "*) [ -z "$NO_ENGINE" ] ;; "compose version") [ -z "$NO_COMPOSE" ] ;; esac'
}

@test "docker_apt_source: Docker's repository for the distribution, signed by its key" {
  run docker_apt_source ubuntu noble
  [ "$output" = "deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu noble stable" ]
}

@test "Docker from its own repository: the key and the list added once, then its packages" {
  . /etc/os-release
  PACKAGE_SOURCE=official run install_docker "$SOURCES"
  [ "$status" -eq 0 ]
  [ "$(cat "$SOURCES/docker.list")" = "$(docker_apt_source "$ID" "$VERSION_CODENAME")" ]
  [ "$(calls | grep -v '^dpkg-query')" = "install -d -m 0755 /etc/apt/keyrings
curl -fsSL https://download.docker.com/linux/$ID/gpg -o /etc/apt/keyrings/docker.asc
apt-get -o DPkg::Lock::Timeout=600 update -qq --error-on=any
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker-ce docker-ce-cli containerd.io docker-compose-plugin
systemctl enable --now docker
docker info
docker compose version" ]
  : >"$CALLS"
  INSTALLED_PACKAGES=$ALL PACKAGE_SOURCE=official run install_docker "$SOURCES"
  [ "$(calls | grep -v '^dpkg-query')" = "systemctl enable --now docker
docker info
docker compose version" ]
}

@test "Docker from the distribution: docker.io, Compose v2 where the distribution packages it, and without Compose the run stops" {
  NO_COMPOSE=1 PACKAGE_SOURCE=distro run install_docker "$SOURCES"
  [ "$status" -eq 1 ]
  [ "$(calls | grep -v '^dpkg-query')" = "apt-get -o DPkg::Lock::Timeout=600 update -qq --error-on=any
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker.io
docker compose version
apt-cache show docker-compose-v2
apt-get -o DPkg::Lock::Timeout=600 update -qq --error-on=any
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker-compose-v2
systemctl enable --now docker
docker info
docker compose version" ]
  [ "$(ls "$SOURCES")" = "" ]
  [[ $output == *"bootstrap: ERROR: Docker Compose v2 is missing: PACKAGE_SOURCE=official installs it; with distro packages the OS must have it (Ubuntu: docker-compose-v2)" ]]
}

@test "Docker from the distribution, Compose v2 there already: nothing more is installed" {
  INSTALLED_PACKAGES=$ALL PACKAGE_SOURCE=distro run install_docker "$SOURCES"
  [ "$status" -eq 0 ]
  [ "$(calls | grep -v '^dpkg-query')" = "docker compose version
systemctl enable --now docker
docker info
docker compose version" ]
}

@test "an engine that does not answer stops the run" {
  NO_ENGINE=1 INSTALLED_PACKAGES=$ALL PACKAGE_SOURCE=distro run install_docker "$SOURCES"
  [ "$status" -eq 1 ]
  [ "$output" = "bootstrap: ERROR: the Docker engine does not answer; see: journalctl -u docker" ]
}

@test "the deploy user leaves the docker group (its docker commands go through sudo); out of it, nothing" {
  stub id 'echo "deploy sudo docker"'
  stub gpasswd
  run keep_out_of_docker_group deploy
  [ "$output" = "bootstrap: removed deploy from the docker group: its docker commands go through sudo" ]
  [ "$(calls)" = "id -nG deploy
gpasswd -d deploy docker" ]
  : >"$CALLS"
  stub id 'echo "deploy sudo dockerish"'
  run keep_out_of_docker_group deploy
  [ "$output" = "" ]
  [ "$(calls)" = "id -nG deploy" ]
}

@test "unit_file_valid: a complaint that names the unit refuses it, whatever systemd-analyze exits with" {
  stub systemd-analyze 'echo "/etc/systemd/system/other.service: note"'
  unit_file_valid "$BATS_TEST_TMPDIR/platform-metadata-guard.service"
  stub systemd-analyze 'echo "platform-metadata-guard.service:3: Unknown key name ExecStrat"; exit 1'
  run unit_file_valid "$BATS_TEST_TMPDIR/platform-metadata-guard.service"
  [ "$status" -eq 1 ]
}

@test "the metadata guard: enabled; restarted when it changed or is not running" {
  stub systemctl 'exit 1'
  run start_metadata_guard 0
  [ "$(calls)" = "systemctl is-enabled --quiet platform-metadata-guard
systemctl enable platform-metadata-guard
systemctl is-active --quiet platform-metadata-guard
systemctl restart platform-metadata-guard" ]
  [ "$status" -eq 1 ]
  [ "$output" = "bootstrap: ERROR: platform-metadata-guard did not start; see: journalctl -u platform-metadata-guard" ]
  : >"$CALLS"
  stub systemctl
  run start_metadata_guard 1
  [ "$(calls)" = "systemctl is-enabled --quiet platform-metadata-guard
systemctl restart platform-metadata-guard" ]
  : >"$CALLS"
  run start_metadata_guard 0
  [ "$(calls)" = "systemctl is-enabled --quiet platform-metadata-guard
systemctl is-active --quiet platform-metadata-guard" ]
}

@test "the metadata guard's files: a changed unit reloads systemd and restarts the guard, whose new rule is logged" {
  local sbin="$BATS_TEST_TMPDIR/sbin"
  mkdir -p "$sbin"
  printf '#!/bin/sh\necho "DOCKER-USER: containers'"'"' traffic to 169.254.169.254 is refused"\n' >"$sbin/platform-metadata-guard"
  chmod +x "$sbin/platform-metadata-guard"
  INSTALLED=/etc/systemd/system/platform-metadata-guard.service run guard_metadata_service "$sbin"
  [ "$status" -eq 0 ]
  [ "$(calls)" = "install_file $sbin/platform-metadata-guard 0755 root:root sh -n
install_file /etc/systemd/system/platform-metadata-guard.service 0644 root:root unit_file_valid
systemctl daemon-reload
systemctl is-enabled --quiet platform-metadata-guard
systemctl restart platform-metadata-guard" ]
  [ "$output" = "bootstrap: DOCKER-USER: containers' traffic to 169.254.169.254 is refused" ]
}

@test "the metadata guard's rule that cannot be added stops the run" {
  local sbin="$BATS_TEST_TMPDIR/sbin"
  mkdir -p "$sbin"
  printf '#!/bin/sh\nexit 1\n' >"$sbin/platform-metadata-guard"
  chmod +x "$sbin/platform-metadata-guard"
  run guard_metadata_service "$sbin"
  [ "$status" -eq 1 ]
  [ "$output" = "bootstrap: ERROR: could not add the DOCKER-USER rule for 169.254.169.254; see: iptables -L DOCKER-USER" ]
}

@test "Caddy from its own repository: its key and list once, then the package; from the distribution: the package" {
  PACKAGE_SOURCE=official run install_caddy "$SOURCES"
  [ "$status" -eq 0 ]
  # The key's download and its conversion run side by side (a pipe): their order is not fixed.
  [ "$(calls | grep -v '^dpkg-query' | head -2 | sort)" = "curl -fsSL https://dl.cloudsmith.io/public/caddy/stable/gpg.key
gpg --dearmor -o /usr/share/keyrings/caddy-stable-archive-keyring.gpg" ]
  [ "$(calls | grep -v '^dpkg-query' | tail -n +3)" = "curl -fsSL https://dl.cloudsmith.io/public/caddy/stable/debian.deb.txt -o $SOURCES/caddy-stable.list
apt-get -o DPkg::Lock::Timeout=600 update -qq --error-on=any
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends caddy" ]
  touch "$SOURCES/caddy-stable.list"
  : >"$CALLS"
  INSTALLED_PACKAGES=caddy PACKAGE_SOURCE=official run install_caddy "$SOURCES"
  [ "$(calls)" = "dpkg-query -W -f=\${Status} caddy" ]
  rm "$SOURCES/caddy-stable.list"
  : >"$CALLS"
  INSTALLED_PACKAGES=caddy PACKAGE_SOURCE=distro run install_caddy "$SOURCES"
  [ "$(calls)" = "dpkg-query -W -f=\${Status} caddy" ]
}

@test "the platform's folders: the app's for the deploy user, the data's for root, NATS's for the containers' user" {
  DEPLOY_USER=deploy APP_DIR=/opt/conversational-platform PLATFORM_DATA_DIR=/var/lib/platform-data CONTAINER_UID=10001 \
    run make_platform_folders
  [ "$(calls)" = "install -d -m 0750 -o deploy -g deploy /opt/conversational-platform /opt/conversational-platform/releases
install -d -m 0750 -o root -g root /var/lib/platform-data
install -d -m 0700 -o 10001 -g 10001 /var/lib/platform-data/nats" ]
}

@test "Docker from a distribution without Compose v2 (Debian 12): nothing more to install, and the run stops saying so" {
  stub apt-cache 'exit 100'
  NO_COMPOSE=1 INSTALLED_PACKAGES=$ALL PACKAGE_SOURCE=distro run install_docker "$SOURCES"
  [ "$status" -eq 1 ]
  [ "$(calls | grep -v '^dpkg-query')" = "docker compose version
apt-cache show docker-compose-v2
systemctl enable --now docker
docker info
docker compose version" ]
}

@test "the metadata guard's files unchanged, its rule in place: nothing restarted, nothing logged" {
  local sbin="$BATS_TEST_TMPDIR/sbin"
  mkdir -p "$sbin"
  printf '#!/bin/sh\nexit 0\n' >"$sbin/platform-metadata-guard"
  chmod +x "$sbin/platform-metadata-guard"
  changed=0
  guard_metadata_service "$sbin" >"$BATS_TEST_TMPDIR/out"
  [ "$changed" -eq 0 ]
  [ "$(cat "$BATS_TEST_TMPDIR/out")" = "" ]
  [ "$(calls)" = "install_file $sbin/platform-metadata-guard 0755 root:root sh -n
install_file /etc/systemd/system/platform-metadata-guard.service 0644 root:root unit_file_valid
systemctl is-enabled --quiet platform-metadata-guard
systemctl is-active --quiet platform-metadata-guard" ]
}
