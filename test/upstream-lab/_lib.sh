# shellcheck shell=bash
# Shared helpers for the upstream-lab scripts. Sourced, never executed.
#
# Everything a lab instance owns lives under one directory (LAB_DIR):
#   LAB_DIR/lab.env          ports and paths, KEY=VALUE (source it, or parse it from a test)
#   LAB_DIR/tls/             self-signed cert.pem + key.pem (CN=localhost, SAN localhost, 127.0.0.1, 127.0.0.2)
#   LAB_DIR/dovecot/         private Dovecot (POP3) instance: config, users, logs, maildirs
#   LAB_DIR/postfix/         private Postfix (SMTP submission) instance: config, queue, log
#   LAB_DIR/postfix/captured/new/   every message Postfix accepted, one file per recipient
#
# Nothing is written outside LAB_DIR except: packages installed with apt-get
# when missing (see lab_ensure_packages).

set -euo pipefail

# shellcheck disable=SC2034  # used by the scripts that source this file
LAB_SCRIPTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Default loopback ports (override with environment variables before the
# first start; the values actually used are recorded in LAB_DIR/lab.env).
: "${LAB_POP3_PORT:=10110}"     # POP3, plain + STLS (like pop3 port 110)
: "${LAB_POP3S_PORT:=10995}"    # POP3 with implicit TLS (like outlook.office365.com:995)
: "${LAB_SMTP_PORT:=10587}"     # SMTP submission, STARTTLS + AUTH (like smtp-mail.outlook.com:587)
: "${LAB_OAUTH2_PORT:=10080}"   # where Dovecot sends OAuth2 token introspection (the TEST runs this server)
# Optional plain IMAP listener (no default): when LAB_IMAP_PORT is set before the
# first start in a LAB_DIR, Dovecot also serves IMAP there (same users, same maildirs),
# for differential tests and benchmarks against a real IMAP server.
LAB_IMAP_PORT="${LAB_IMAP_PORT:-}"
# The uid/gid that owns maildirs (Dovecot refuses uid 0 for mail access).
: "${LAB_MAIL_USER:=nobody}"
: "${LAB_MAIL_GROUP:=nogroup}"

log() { printf '[upstream-lab] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# lab_dir [DIR] -> prints an absolute lab dir; creates a mktemp dir when DIR is empty.
lab_dir() {
  local d="${1:-}"
  if [ -z "$d" ]; then
    d="$(mktemp -d "${TMPDIR:-/tmp}/upstream-lab.XXXXXX")"
  fi
  mkdir -p "$d"
  d="$(cd "$d" && pwd)"
  # Dovecot's auth/login processes and the mail uid must be able to traverse it.
  chmod 0755 "$d"
  printf '%s\n' "$d"
}

# Record the ports in LAB_DIR/lab.env the first time; later calls reuse them,
# so stop/inject scripts and tests always agree with the running instance.
lab_load_env() {
  local d="$1"
  if [ -f "$d/lab.env" ]; then
    # lab.env wins over the environment, also for the optional IMAP port: a lab
    # first started without IMAP stays without it.
    LAB_IMAP_PORT=
    # shellcheck disable=SC1091
    . "$d/lab.env"
  else
    case "$LAB_IMAP_PORT" in *[!0-9]*) die "LAB_IMAP_PORT must be a port number, got '$LAB_IMAP_PORT'" ;; esac
    cat >"$d/lab.env" <<EOF
LAB_DIR=$d
LAB_HOST=127.0.0.1
LAB_STRICT_HOST=127.0.0.2
LAB_POP3_PORT=$LAB_POP3_PORT
LAB_POP3S_PORT=$LAB_POP3S_PORT
LAB_SMTP_PORT=$LAB_SMTP_PORT
LAB_OAUTH2_PORT=$LAB_OAUTH2_PORT
LAB_CA_CERT=$d/tls/cert.pem
LAB_CAPTURE_DIR=$d/postfix/captured
EOF
    if [ -n "$LAB_IMAP_PORT" ]; then
      printf 'LAB_IMAP_PORT=%s\n' "$LAB_IMAP_PORT" >>"$d/lab.env"
    fi
    # shellcheck disable=SC1091
    . "$d/lab.env"
  fi
}

lab_require_root() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (CI and the dev machines do); Postfix's master and Dovecot's privilege separation need it"
}

# lab_ensure_packages PKG... : apt-get install what is missing, without
# letting the packages start (or configure) their system-wide services.
lab_ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  lab_require_root
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix: "No configuration" leaves /etc/postfix/main.cf absent, so the
  # system-wide Postfix is never configured nor started. Our instance uses
  # its own config dir and does not need it.
  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  # Stop maintainer scripts from starting services (invoke-rc.d and
  # deb-systemd-invoke both honour policy-rc.d). Only add one if none exists.
  local added_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  local apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300)
  # 'apt-get update' only when a package is unknown (fresh machine, no lists).
  for p in "${missing[@]}"; do
    if ! apt-cache show "$p" >/dev/null 2>&1; then
      apt-get update -q -o DPkg::Lock::Timeout=300 >&2
      break
    fi
  done
  local rc=0
  apt-get install "${apt_opts[@]}" "${missing[@]}" >&2 || rc=$?
  if [ "$rc" -ne 0 ]; then
    # Stale package lists give 404s: refresh once and retry.
    apt-get update -q -o DPkg::Lock::Timeout=300 >&2
    rc=0
    apt-get install "${apt_opts[@]}" "${missing[@]}" >&2 || rc=$?
  fi
  [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] || die "apt-get install ${missing[*]} failed"
  # We just installed these packages, so nobody relies on their system
  # services yet: make sure they are stopped and will not start at boot.
  lab_disable_system_service dovecot
  lab_disable_system_service postfix
}

# Stop and disable a system-wide service that a package may have started.
# Only called right after we installed the package ourselves.
lab_disable_system_service() {
  local svc="$1"
  [ -e "/etc/init.d/$svc" ] || [ -e "/lib/systemd/system/$svc.service" ] || return 0
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
  else
    # No systemd (containers): the init script stops it if it runs; the
    # rc.d links are removed so nothing starts it at boot.
    if [ "$svc" = postfix ]; then
      # "postfix status" on the default config (/etc/postfix) is silent if not running
      if [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then postfix stop >&2 || true; fi
    elif [ -f /run/dovecot/master.pid ] && kill -0 "$(cat /run/dovecot/master.pid)" 2>/dev/null; then
      service "$svc" stop >&2 || true
    fi
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
}

# lab_ensure_cert DIR : self-signed certificate for 127.0.0.1/localhost,
# generated once per lab dir (RSA 2048, valid 10 years). Tests trust it with
# e.g. Node's `ca: fs.readFileSync(LAB_CA_CERT)`, curl --cacert, or skip checks.
lab_ensure_cert() {
  local d="$1/tls"
  [ -s "$d/cert.pem" ] && [ -s "$d/key.pem" ] && return 0
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
    -subj '/CN=localhost/O=upstream-lab' \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2' \
    -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
  chmod 0600 "$d/key.pem"
  chmod 0644 "$d/cert.pem"
}

# lab_port_free PORT : true when nothing listens on 127.0.0.1:PORT
lab_port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# lab_wait_port PORT [TIMEOUT_S] : wait until 127.0.0.1:PORT accepts connections
lab_wait_port() {
  local port="$1" timeout="${2:-15}" i
  for ((i = 0; i < timeout * 20; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# lab_pid_alive PIDFILE EXE_SUBSTRING : prints the pid if the pid file points
# at a live process whose executable matches (guards against recycled pids).
lab_pid_alive() {
  local pidfile="$1" exe="$2" pid
  [ -s "$pidfile" ] || return 1
  pid="$(tr -dc '0-9' <"$pidfile")"
  [ -n "$pid" ] && lab_running "$pid" || return 1
  readlink "/proc/$pid/exe" 2>/dev/null | grep -q -- "$exe" || return 1
  printf '%s\n' "$pid"
}

# lab_running PID : the process exists and is not a zombie
lab_running() {
  local st
  st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# lab_children PID : pids whose parent is PID (reads /proc; no procps needed)
lab_children() {
  local parent="$1" f s fields
  for f in /proc/[0-9]*/stat; do
    read -r s <"$f" 2>/dev/null || continue
    # "pid (comm) state ppid ...": comm may contain spaces, cut after the last ')'
    read -r -a fields <<<"${s##*) }"
    if [ "${fields[1]:-}" = "$parent" ]; then
      f="${f#/proc/}"
      printf '%s\n' "${f%/stat}"
    fi
  done
}

# lab_kill_wait PID [TIMEOUT_S] : SIGTERM to a server's master process, wait
# until it AND the children it had are gone (so the ports are free again),
# SIGKILL whatever is left after TIMEOUT_S. Only these pids are signalled.
lab_kill_wait() {
  local pid="$1" timeout="${2:-10}" i p alive
  local pids=("$pid")
  for p in $(lab_children "$pid"); do pids+=("$p"); done
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 20; i++)); do
    alive=
    for p in "${pids[@]}"; do lab_running "$p" && alive=1 && break; done
    [ -z "$alive" ] && return 0
    sleep 0.05
  done
  for p in "${pids[@]}"; do
    if lab_running "$p"; then
      log "pid $p still running after ${timeout}s, sending SIGKILL"
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
}
