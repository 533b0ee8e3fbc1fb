#!/usr/bin/env bash
# Scripts/synapse.sh — a throwaway, loopback-only Synapse homeserver for MLSKit's Matrix tests.
#
#   Scripts/synapse.sh install                                   # venv + pinned matrix-synapse (idempotent)
#   Scripts/synapse.sh start [--default-limits] [--port N] [--keep-data]
#                                                                # last stdout line: http://127.0.0.1:N
#   Scripts/synapse.sh stop                                      # SIGTERM, SIGKILL after ~10 s
#   Scripts/synapse.sh kill                                      # SIGKILL (crash scenario)
#   Scripts/synapse.sh status                                    # "running ..." / "not running"
#
# Environment:
#   SYNAPSE_DIR     base directory (default: <repo>/.synapse); holds venv/ and data/
#   SYNAPSE_PYTHON  interpreter used to create the venv (default: python3 on PATH; needs >= 3.10)
#
# Why a real Synapse and not a mock: the Matrix transport must be proven against the server
# behaviour clients actually meet (UIA on /register, 429 M_LIMIT_EXCEEDED, /sync caching,
# event size limits). Docker is not available on the project's machines, so Synapse comes from
# PyPI into a virtualenv. See shared/design/matrix-mapping.md, "A real homeserver for tests".
#
# Nothing here listens beyond 127.0.0.1 and there is no federation listener, so the open
# registration and the raised rate limits below are safe: only local processes can reach it.
set -euo pipefail

# Pinned exactly so every machine (developer, CI) tests against the same server behaviour;
# bump deliberately and re-run the Matrix integration tests when changing it.
SYNAPSE_VERSION="1.163.2"

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
SYNAPSE_DIR="${SYNAPSE_DIR:-$REPO_ROOT/.synapse}"
VENV="$SYNAPSE_DIR/venv"
DATA="$SYNAPSE_DIR/data"
PID_FILE="$DATA/homeserver.pid"
LOG_FILE="$DATA/homeserver.log"
CONFIG="$DATA/homeserver.yaml"
# Remembered per run so `status` / an "already running" `start` can report the right URL and
# warn when the running server was started with a different limits mode than requested.
PORT_FILE="$DATA/port"
MODE_FILE="$DATA/limits-mode"
DEFAULT_PORT=8008
START_TIMEOUT_S=60
STOP_TIMEOUT_S=10

log() { echo "synapse.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# Serialise start/stop/kill: test suites may run in parallel and call `start` concurrently; two
# racing starts would both see "not running", wipe each other's data dir and fight for the port.
# flock(1) is util-linux, present on Debian. fd 9 is closed for the Synapse child (see start),
# otherwise the daemon would hold the lock for its whole life.
take_lock() {
    mkdir -p "$SYNAPSE_DIR"
    exec 9>"$SYNAPSE_DIR/.lock"
    flock 9
}

# ---------------------------------------------------------------------------------------------
# Process bookkeeping
# ---------------------------------------------------------------------------------------------

# Prints the PID if the PID file names a live Synapse process; returns 1 otherwise.
# Checking the command line (not just `kill -0`) guards against PID reuse after a crash/reboot
# leaving a stale PID file that now points at some unrelated process we must not signal.
live_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(tr -dc '0-9' <"$PID_FILE")"
    [[ -n "$pid" ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'synapse.app.homeserver' || return 1
    fi
    echo "$pid"
}

# A process we already SIGKILLed can linger briefly as a zombie if its parent has not reaped it;
# treat zombies as dead so `kill`/`stop` do not wait on them.
is_alive() {
    local pid="$1" state
    kill -0 "$pid" 2>/dev/null || return 1
    state="$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
    [[ "$state" != "Z" ]]
}

base_url() { echo "http://127.0.0.1:$1"; }

# ---------------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------------

installed_version() {
    [[ -x "$VENV/bin/python" ]] || return 1
    "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("matrix-synapse"))' 2>/dev/null
}

as_root() {
    if [[ "$(id -u)" == "0" ]]; then "$@"; else sudo "$@"; fi
}

cmd_install() {
    local have
    if have="$(installed_version)" && [[ "$have" == "$SYNAPSE_VERSION" ]]; then
        log "matrix-synapse $SYNAPSE_VERSION already installed in $VENV"
        return 0
    fi
    local py="${SYNAPSE_PYTHON:-python3}"
    command -v "$py" >/dev/null || die "$py not found (set SYNAPSE_PYTHON)"
    "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
        || die "matrix-synapse $SYNAPSE_VERSION needs Python >= 3.10 ($py is $("$py" -V 2>&1))"

    # A venv that exists but lacks the pinned version (older pin, or broken because the
    # interpreter it points at went away) is rebuilt from scratch rather than upgraded in place:
    # cheaper to reason about than pip's resolver on top of stale packages.
    rm -rf "$VENV"
    mkdir -p "$SYNAPSE_DIR"
    # Debian's system python3 ships the venv module but not ensurepip until python3-venv is
    # installed, so `python3 -m venv` fails there; install the package and retry once.
    if ! "$py" -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        log "python3 -m venv failed; installing python3-venv via apt"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        "$py" -m venv "$VENV"
    fi
    # A current pip resolves/installs the binary wheels (synapse ships a Rust extension as
    # manylinux wheels) instead of falling back to an sdist build that would need a Rust toolchain.
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
    have="$(installed_version)" || die "matrix-synapse did not install"
    [[ "$have" == "$SYNAPSE_VERSION" ]] || die "installed $have, expected $SYNAPSE_VERSION"
    log "installed matrix-synapse $have in $VENV"
}

# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------

# Rate limits for tests: Synapse's defaults (0.2 msg/s burst 10; 5 logins per IP then minutes of
# lockout; ~3 registrations per IP; 10 room creations) make any multi-client test flaky or slow.
# Every limiter Synapse 1.163 parses is listed; Synapse ignores unknown keys, so entries for
# limiters an older/newer version lacks are harmless.
RAISED_LIMITS='
# Raised rate limits (omit with --default-limits). Every rc_* limiter Synapse parses.
rc_message: {per_second: 1000, burst_count: 1000}
rc_registration: {per_second: 1000, burst_count: 1000}
rc_registration_token_validity: {per_second: 1000, burst_count: 1000}
rc_login:
  address: {per_second: 1000, burst_count: 1000}
  account: {per_second: 1000, burst_count: 1000}
  failed_attempts: {per_second: 1000, burst_count: 1000}
rc_admin_redaction: {per_second: 1000, burst_count: 1000}
rc_joins:
  local: {per_second: 1000, burst_count: 1000}
  remote: {per_second: 1000, burst_count: 1000}
rc_joins_per_room: {per_second: 1000, burst_count: 1000}
rc_invites:
  per_room: {per_second: 1000, burst_count: 1000}
  per_user: {per_second: 1000, burst_count: 1000}
  per_issuer: {per_second: 1000, burst_count: 1000}
rc_third_party_invite: {per_second: 1000, burst_count: 1000}
rc_3pid_validation: {per_second: 1000, burst_count: 1000}
rc_key_requests: {per_second: 1000, burst_count: 1000}
rc_media_create: {per_second: 1000, burst_count: 1000}
rc_presence:
  per_user: {per_second: 1000, burst_count: 1000}
rc_delayed_event_mgmt: {per_second: 1000, burst_count: 1000}
rc_room_creation: {per_second: 1000, burst_count: 1000}
rc_reports: {per_second: 1000, burst_count: 1000}
rc_user_directory: {per_second: 1000, burst_count: 1000}
rc_profile: {per_second: 1000, burst_count: 1000}
'

# homeserver.yaml is written directly rather than produced by --generate-config: the generated
# file listens on ::1 and 127.0.0.1 with a federation resource and would need patching; writing
# the whole file keeps every setting visible here. Only key material is generated (gen_secrets).
write_config() {
    local port="$1" default_limits="$2"
    cat >"$CONFIG" <<EOF
# Generated by Scripts/synapse.sh — rewritten on every start; edit the script, not this file.
server_name: "localhost"
public_baseurl: "$(base_url "$port")/"
report_stats: false

# Loopback only, client API only. 'client' already serves the client media endpoints
# (/_matrix/media/*, /_matrix/client/v1/media/*); no 'federation' or 'keys' resource is mounted.
listeners:
  - port: $port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false

# No federation at all: an empty whitelist (as opposed to an absent one) means "no other server".
federation_domain_whitelist: []
trusted_key_servers: []
suppress_key_server_warning: true
allow_public_rooms_over_federation: false

database:
  name: sqlite3
  args:
    database: "$DATA/homeserver.db"

media_store_path: "$DATA/media_store"
# MLS messages that exceed the 64 KiB event limit (large Welcomes/commits) may go via media.
max_upload_size: 100M
url_preview_enabled: false

# Open registration, no email/captcha: test clients register their own throwaway users.
enable_registration: true
enable_registration_without_verification: true

# Key material lives in files in the data dir so --keep-data restarts keep the same keys.
# All four are created by gen_secrets below. The shared secret also enables the admin
# registration API (/_synapse/admin/v1/register) should a test need an admin user.
signing_key_path: "$DATA/localhost.signing.key"
macaroon_secret_key_path: "$DATA/macaroon_secret_key"
form_secret_path: "$DATA/form_secret"
registration_shared_secret_path: "$DATA/registration_shared_secret"

# Presence changes wake /sync long-polls early with nothing the tests care about; off avoids that.
presence:
  enabled: false
enable_metrics: false

# No log_config: Synapse then logs INFO to stderr, which start redirects to homeserver.log.
EOF
    if [[ "$default_limits" == "0" ]]; then
        printf '%s' "$RAISED_LIMITS" >>"$CONFIG"
    else
        printf '\n# --default-limits: no rc_* overrides, Synapse defaults apply (rc_message 0.2/s burst 10).\n' >>"$CONFIG"
    fi
}

gen_secrets() {
    # Creates whatever key material is missing (all of it on a fresh start, none with --keep-data).
    # Done with signedjson (a Synapse dependency) in one small Python call rather than
    # `synapse.app.homeserver --generate-keys`, which imports all of Synapse and costs ~2.5 s on
    # every start; the signing key file has the same "ed25519 a_XXXX <base64>" format Synapse writes.
    DATA="$DATA" "$VENV/bin/python" - <<'PY'
import os, secrets, string
from signedjson.key import generate_signing_key, write_signing_keys

data = os.environ["DATA"]

def create(name, write):
    path = os.path.join(data, name)
    if os.path.exists(path) and os.path.getsize(path) > 0:
        return
    with open(path, "w", opener=lambda p, f: os.open(p, f, 0o600)) as fh:
        write(fh)

create("macaroon_secret_key", lambda fh: fh.write(secrets.token_hex(32) + "\n"))
create("form_secret", lambda fh: fh.write(secrets.token_hex(32) + "\n"))
create("registration_shared_secret", lambda fh: fh.write(secrets.token_hex(32) + "\n"))
key_id = "a_" + "".join(secrets.choice(string.ascii_letters) for _ in range(4))
create("localhost.signing.key", lambda fh: write_signing_keys(fh, (generate_signing_key(key_id),)))
PY
}

# ---------------------------------------------------------------------------------------------
# start / stop / kill / status
# ---------------------------------------------------------------------------------------------

cmd_start() {
    local port="$DEFAULT_PORT" default_limits=0 keep_data=0
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --default-limits) default_limits=1 ;;
            --keep-data) keep_data=1 ;;
            --port)
                [[ $# -ge 2 ]] || die "--port needs a value"
                port="$2"; shift ;;
            --port=*) port="${1#--port=}" ;;
            *) die "unknown start option: $1" ;;
        esac
        shift
    done
    if ! [[ "$port" =~ ^[0-9]{1,5}$ ]] || (( 10#$port < 1 || 10#$port > 65535 )); then
        die "bad port: $port"
    fi
    port=$((10#$port))  # normalise "08008" so the URL and port file match what Synapse binds
    local want_mode="raised"
    [[ "$default_limits" == "1" ]] && want_mode="default"

    installed_version >/dev/null || die "Synapse not installed in $VENV; run: $0 install"
    take_lock

    local pid
    if pid="$(live_pid)"; then
        local run_port run_mode
        run_port="$(cat "$PORT_FILE" 2>/dev/null || echo "$DEFAULT_PORT")"
        run_mode="$(cat "$MODE_FILE" 2>/dev/null || echo unknown)"
        log "already running (pid $pid, port $run_port, $run_mode rate limits)"
        # Exit 0 as asked, but make a mismatch loud: a test expecting default limits against a
        # raised-limits server (or another port) would otherwise pass/fail for the wrong reason.
        [[ "$run_mode" == "$want_mode" ]] || log "warning: requested $want_mode rate limits; stop first to change"
        [[ "$run_port" == "$port" ]] || log "warning: requested port $port; running on $run_port"
        base_url "$run_port"
        return 0
    fi

    # Anything already answering on the port (another SYNAPSE_DIR's server, a leftover from a
    # crashed run whose PID file was wiped) would make the readiness probe below succeed against
    # the wrong server, so refuse instead.
    if curl -fsS -o /dev/null --max-time 2 "$(base_url "$port")/_matrix/client/versions" 2>/dev/null; then
        die "something already answers on 127.0.0.1:$port (not our PID file); stop it or use --port"
    fi

    if [[ "$keep_data" == "0" ]]; then
        # Tests want a fresh server: no users, rooms or tokens from earlier runs.
        rm -rf "$DATA"
    fi
    mkdir -p "$DATA/media_store"
    rm -f "$PID_FILE"
    write_config "$port" "$default_limits"
    gen_secrets
    echo "$port" >"$PORT_FILE"
    echo "$want_mode" >"$MODE_FILE"

    {
        echo
        echo "===== synapse.sh start $(date -u +%FT%TZ) port=$port limits=$want_mode keep_data=$keep_data ====="
    } >>"$LOG_FILE"
    # nohup + stdin from /dev/null + all output to the log: the server must outlive this script
    # and must not hold the caller's pipes open (URL=$(synapse.sh start | tail -1) would hang).
    # Every other inherited descriptor is closed too: the lock fd 9 (or the daemon would hold
    # the lock for life), and whatever the caller passed down. Swift Foundation's Process, for
    # one, watches a descriptor it gives the child, and waits until that closes: a daemon
    # holding it makes waitUntilExit() hang until Synapse stops. The subshell execs nohup,
    # which execs python, so $! is Synapse's own PID.
    local started_at=$SECONDS
    (
        for fd in /proc/$BASHPID/fd/*; do
            n=${fd##*/}
            if [ "$n" -gt 2 ]; then eval "exec $n>&-" 2>/dev/null || true; fi
        done
        exec nohup "$VENV/bin/python" -m synapse.app.homeserver --config-path "$CONFIG" \
            </dev/null >>"$LOG_FILE" 2>&1
    ) &
    pid=$!
    echo "$pid" >"$PID_FILE"

    local url
    url="$(base_url "$port")"
    while true; do
        if ! is_alive "$pid"; then
            rm -f "$PID_FILE"
            log "Synapse exited during startup; last log lines:"
            tail -n 30 "$LOG_FILE" >&2
            exit 1
        fi
        if curl -fsS -o /dev/null --max-time 2 "$url/_matrix/client/versions" 2>/dev/null; then
            break
        fi
        if (( SECONDS - started_at >= START_TIMEOUT_S )); then
            log "Synapse did not answer within ${START_TIMEOUT_S}s; killing it. Last log lines:"
            tail -n 30 "$LOG_FILE" >&2
            kill -KILL "$pid" 2>/dev/null || true
            rm -f "$PID_FILE"
            exit 1
        fi
        sleep 0.2
    done
    log "started (pid $pid, $want_mode rate limits, ready after $((SECONDS - started_at))s, log $LOG_FILE)"
    # Last stdout line is the base URL; callers parse it.
    echo "$url"
}

cmd_stop() {
    take_lock
    local pid
    if ! pid="$(live_pid)"; then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    # SIGTERM lets Synapse finish in-flight requests and close SQLite cleanly; SIGKILL only as a
    # fallback so a wedged server cannot block the test suite.
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while is_alive "$pid" && (( waited < STOP_TIMEOUT_S * 10 )); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if is_alive "$pid"; then
        log "still alive after ${STOP_TIMEOUT_S}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while is_alive "$pid"; do sleep 0.1; done
    fi
    rm -f "$PID_FILE"
    log "stopped (pid $pid)"
}

cmd_kill() {
    take_lock
    local pid
    if ! pid="$(live_pid)"; then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    # Crash simulation: no shutdown hooks, no graceful close. Data dir is left as-is so the test
    # can `start --keep-data` and check recovery.
    kill -KILL "$pid" 2>/dev/null || true
    while is_alive "$pid"; do sleep 0.05; done
    rm -f "$PID_FILE"
    log "killed (pid $pid)"
}

cmd_status() {
    local pid
    if pid="$(live_pid)"; then
        echo "running (pid $pid, $(base_url "$(cat "$PORT_FILE" 2>/dev/null || echo "$DEFAULT_PORT")"), $(cat "$MODE_FILE" 2>/dev/null || echo unknown) rate limits)"
    else
        echo "not running"
    fi
}

[[ $# -ge 1 ]] || usage
sub="$1"; shift
case "$sub" in
    install) [[ $# -eq 0 ]] || usage; cmd_install ;;
    start) cmd_start "$@" ;;
    stop) [[ $# -eq 0 ]] || usage; cmd_stop ;;
    kill) [[ $# -eq 0 ]] || usage; cmd_kill ;;
    status) [[ $# -eq 0 ]] || usage; cmd_status ;;
    -h|--help|help) usage ;;
    *) usage ;;
esac
