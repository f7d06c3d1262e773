# shellcheck shell=bash disable=SC2034,SC2154 # shared with the bootstrap: it sets here, and reads "changed"
# Managed by conversational-platform (templates/host/bootstrap/runtime.sh).
# What the platform runs on: the Docker engine with Compose v2 (its
# containers kept from the cloud's metadata service), Caddy, and the
# platform's folders. Sourced by the bootstrap after lib.sh and packages.sh;
# here is the folder of the files it installs.

# docker_apt_source ID CODENAME: the line of Docker's own repository for a
# distribution (ID and VERSION_CODENAME of os-release), signed by the key
# the bootstrap fetches.
docker_apt_source() {
  echo "deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/$1 $2 stable"
}

# install_docker SOURCES_DIR: the engine and Compose v2, from Docker's
# repository (PACKAGE_SOURCE official; listed in apt's SOURCES_DIR,
# /etc/apt/sources.list.d) or the distribution's packages; answering.
install_docker() {
  local sources=$1 ID VERSION_CODENAME
  # shellcheck source=/dev/null # the host's own
  . /etc/os-release
  if [ "$PACKAGE_SOURCE" = official ]; then
    if [ ! -f "$sources/docker.list" ]; then
      install -d -m 0755 /etc/apt/keyrings
      curl -fsSL "https://download.docker.com/linux/$ID/gpg" -o /etc/apt/keyrings/docker.asc
      docker_apt_source "$ID" "$VERSION_CODENAME" >"$sources/docker.list"
      changed=1
    fi
    apt_install docker-ce docker-ce-cli containerd.io docker-compose-plugin
  else
    apt_install docker.io
    # Ubuntu packages Compose v2 as docker-compose-v2; Debian 12 has none.
    if ! docker compose version >/dev/null 2>&1 && apt-cache show docker-compose-v2 >/dev/null 2>&1; then
      apt_install docker-compose-v2
    fi
  fi
  systemctl enable --now docker >/dev/null 2>&1 || true
  docker info >/dev/null 2>&1 || fail "the Docker engine does not answer; see: journalctl -u docker"
  docker compose version >/dev/null 2>&1 ||
    fail "Docker Compose v2 is missing: PACKAGE_SOURCE=official installs it; with distro packages the OS must have it (Ubuntu: docker-compose-v2)"
}

# keep_out_of_docker_group USER: USER not in the docker group (which is root
# without sudo): its docker commands go through sudo, and so into sudo's
# log. Takes effect at its next login.
keep_out_of_docker_group() {
  local groups
  groups=$(id -nG "$1")
  if grep -qx docker <<<"${groups// /$'\n'}"; then
    gpasswd -d "$1" docker >/dev/null
    log "removed $1 from the docker group: its docker commands go through sudo"
    changed=1
  fi
}

# unit_file_valid FILE: systemd-analyze exits 0 on a line it ignores: its
# complaints about this unit tell (read whole: under pipefail a pipe's status
# would be systemd-analyze's).
unit_file_valid() {
  local report
  report=$(systemd-analyze verify --man=no "$1" 2>&1 || true)
  ! grep -qF "$(basename "$1")" <<<"$report"
}

# start_metadata_guard INSTALLED: the guard's service enabled, and (re)started
# when INSTALLED is 1 (its script or unit changed) or it is not active.
start_metadata_guard() {
  if ! systemctl is-enabled --quiet platform-metadata-guard; then
    systemctl enable platform-metadata-guard >/dev/null 2>&1
    changed=1
  fi
  if [ "$1" -eq 1 ] || ! systemctl is-active --quiet platform-metadata-guard; then
    systemctl restart platform-metadata-guard || fail "platform-metadata-guard did not start; see: journalctl -u platform-metadata-guard"
  fi
}

# guard_metadata_service SBIN: 169.254.169.254 hands the instance's user data to
# any process that asks, in a container too: a DOCKER-USER rule refuses
# containers, after every start of Docker (a reboot empties the rules). The
# host itself still reaches it (cloud-init reads it at boot). IPv6 needs
# nothing: the service has no IPv6 address, and Docker gives containers none
# here. The guard's script goes to SBIN (/usr/local/sbin), as its unit says.
guard_metadata_service() {
  local sbin=$1 installed=0 guard
  if install_file "$here/docker/metadata-guard.sh" "$sbin/platform-metadata-guard" 0755 root:root sh -n; then installed=1; fi
  if install_file "$here/docker/platform-metadata-guard.service" /etc/systemd/system/platform-metadata-guard.service 0644 root:root unit_file_valid; then
    systemctl daemon-reload
    installed=1
  fi
  start_metadata_guard "$installed"
  # The rule itself, whatever happened to it since (it prints only what it adds).
  guard=$("$sbin/platform-metadata-guard") || fail "could not add the DOCKER-USER rule for 169.254.169.254; see: iptables -L DOCKER-USER"
  if [ -n "$guard" ]; then
    log "$guard"
    changed=1
  fi
}

# install_caddy SOURCES_DIR: Caddy, from its own repository (PACKAGE_SOURCE
# official; listed in apt's SOURCES_DIR) or the distribution's.
install_caddy() {
  if [ "$PACKAGE_SOURCE" = official ] && [ ! -f "$1/caddy-stable.list" ]; then
    curl -fsSL https://dl.cloudsmith.io/public/caddy/stable/gpg.key | gpg --dearmor -o /usr/share/keyrings/caddy-stable-archive-keyring.gpg
    curl -fsSL https://dl.cloudsmith.io/public/caddy/stable/debian.deb.txt -o "$1/caddy-stable.list"
    changed=1
  fi
  apt_install caddy
}

# make_platform_folders: the deploy user's app folder and its releases; the
# data folder, NATS's part owned by the containers' user.
make_platform_folders() {
  install -d -m 0750 -o "$DEPLOY_USER" -g "$DEPLOY_USER" "$APP_DIR" "$APP_DIR/releases"
  install -d -m 0750 -o root -g root "$PLATFORM_DATA_DIR"
  install -d -m 0700 -o "$CONTAINER_UID" -g "$CONTAINER_UID" "$PLATFORM_DATA_DIR/nats"
}
