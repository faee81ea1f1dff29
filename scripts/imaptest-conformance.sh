#!/usr/bin/env bash
# Runs Dovecot's imaptest conformance suite (71 scripted groups, ../shared/tools/imaptest) against a
# hotbridge daemon of its own: a temporary config and data dir, free loopback ports, one account whose
# upstream is a closed local port (nothing leaves the machine), a local password, an empty mailbox.
# Exit 0 only when every group passes.
#   scripts/imaptest-conformance.sh [IMAPTEST_DIR]
# IMAPTEST_DIR defaults to ../shared/tools/imaptest beside the repository (where CI has it); with
# CI=true a missing suite is a failure, otherwise the script says where to get it and exits 0.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${1:-${IMAPTEST_DIR:-$ROOT/../shared/tools/imaptest}}"
if [ ! -x "$TOOLS/conformance.sh" ]; then
  # A worktree may live deeper than the clone CI makes: look one level further up too.
  [ -z "${1:-}" ] && [ -x "$ROOT/../../shared/tools/imaptest/conformance.sh" ] && TOOLS="$ROOT/../../shared/tools/imaptest"
fi
if [ ! -x "$TOOLS/conformance.sh" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "imaptest-conformance: no imaptest at $TOOLS (CI must provide ../shared/tools/imaptest)" >&2
    exit 1
  fi
  echo "imaptest-conformance: skipped, no imaptest at $TOOLS (Dovecot's imaptest, release-2.3: https://github.com/dovecot/imaptest)" >&2
  exit 0
fi
TOOLS="$(cd "$TOOLS" && pwd)"

node "$ROOT/scripts/prepare.mjs"
# Build (or find) imaptest before the daemon starts, so its start-up is not timed against a build.
"$TOOLS/build.sh" >/dev/null

tmp="$(mktemp -d)"
daemon=""
cleanup() {
  if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

read -r imap smtp closed <<<"$(node -e '
  const net = require("node:net");
  const take = () => new Promise((resolve) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); }); });
  Promise.all([take(), take(), take()]).then((ports) => console.log(ports.join(" ")));
')"
user="imaptest@example.test"
password="imaptest-local"
printf 'unused-upstream-password\n' >"$tmp/upstream.secret"
chmod 600 "$tmp/upstream.secret"
cat >"$tmp/config.toml" <<TOML
data_dir = "$tmp/data"
[imap]
listen = ["127.0.0.1:$imap"]
[smtp]
listen = ["127.0.0.1:$smtp"]
[[accounts]]
address = "$user"
provider = "custom"
poll_interval = "1h"
[accounts.auth]
method = "password"
password_file = "$tmp/upstream.secret"
[accounts.pop3]
host = "127.0.0.1"
port = $closed
tls = "implicit"
[accounts.smtp]
host = "127.0.0.1"
port = $closed
tls = "starttls"
TOML
chmod 600 "$tmp/config.toml"
printf '%s\n' "$password" | node "$ROOT/bin/hotbridge.js" password "$user" --config "$tmp/config.toml" >/dev/null

node "$ROOT/bin/hotbridge.js" run --config "$tmp/config.toml" >"$tmp/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$imap") 2>/dev/null; then break; fi
  kill -0 "$daemon" 2>/dev/null || { echo "imaptest-conformance: the daemon exited" >&2; tail -20 "$tmp/daemon.log" >&2; exit 1; }
  sleep 0.1
done

status=0
"$TOOLS/conformance.sh" "$imap" "$user" "$password" || status=$?
kill -0 "$daemon" 2>/dev/null || { echo "imaptest-conformance: the daemon died during the run" >&2; tail -20 "$tmp/daemon.log" >&2; exit 1; }
# What the run cost the daemon's event loop (issue 11), from its own status.
node "$ROOT/bin/hotbridge.js" status --json --config "$tmp/config.toml" 2>/dev/null | node -e '
  let text = ""; process.stdin.on("data", (c) => (text += c)).on("end", () => {
    try {
      const { sinceStart } = JSON.parse(text).eventLoop;
      console.log(`imaptest-conformance: daemon event loop delay during the run: p99 ${sinceStart.p99Ms} ms, max ${sinceStart.maxMs} ms`);
    } catch { /* an older daemon without the figures */ }
  });' || true
exit "$status"
