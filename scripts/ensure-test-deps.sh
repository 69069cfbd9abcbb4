#!/usr/bin/env bash
# Make sure the system packages the test suite needs are installed:
#   - PostgreSQL server binaries (initdb/pg_ctl/postgres under /usr/lib/postgresql/*/bin),
#     used by tests/pgserver.py to start a throw-away server per test session;
#   - Chromium (/usr/bin/chromium) for the e2e browser tests.
#
# Idempotent and fast when everything is present (no apt call at all then).
# When something is missing and we are root with apt-get, installs it from Debian's
# packages in a single `apt-get install`. When not root, prints a warning and carries
# on: the affected tests then skip (or fail under CI=true, see tests/ci_guard.py).
#
# The Debian `postgresql` package creates and starts a system cluster (15/main on
# port 5432). The tests never use it (they start their own server on a free port),
# so any cluster that is running after the install is stopped again.
set -euo pipefail

log() { printf 'ensure-test-deps: %s\n' "$*"; }

have_pg_server() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
            return 0
        fi
    done
    return 1
}

have_chromium() {
    [[ -x /usr/bin/chromium ]]
}

packages=()
if have_pg_server; then
    log "PostgreSQL server binaries present: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
else
    log "PostgreSQL server binaries missing"
    packages+=(postgresql)
fi
if have_chromium; then
    log "Chromium present: /usr/bin/chromium"
else
    log "Chromium missing"
    packages+=(chromium)
fi

# A Chinese font, or Chromium draws the diagrams' Chinese labels as empty boxes in screenshots.
if [[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] || fc-list 2>/dev/null | grep -qi "CJK\|WenQuanYi"; then
    log "Chinese font present"
else
    log "Chinese font missing"
    packages+=(fonts-wqy-microhei)
fi

if [[ ${#packages[@]} -eq 0 ]]; then
    log "nothing to install"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    log "WARNING: not root, cannot install: ${packages[*]}" >&2
    log "WARNING: tests that need them will be skipped (and fail under CI=true)" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    log "WARNING: apt-get not found, cannot install: ${packages[*]}" >&2
    log "WARNING: tests that need them will be skipped (and fail under CI=true)" >&2
    exit 0
fi

start=$SECONDS
log "apt-get update"
apt-get update -q -o Acquire::Retries=3 -o DPkg::Lock::Timeout=300
log "apt-get install ${packages[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Acquire::Retries=3 -o DPkg::Lock::Timeout=300 "${packages[@]}"

# The system cluster is of no use to the tests: stop whatever the package started
# so it does not hold port 5432 and memory for the rest of the run.
if command -v pg_lsclusters >/dev/null 2>&1; then
    while read -r ver name _port status _rest; do
        if [[ "$status" == online* ]]; then
            log "stopping system cluster $ver/$name (not used by the tests)"
            pg_ctlcluster "$ver" "$name" stop || log "could not stop cluster $ver/$name (harmless)"
        fi
    done < <(pg_lsclusters -h 2>/dev/null || true)
fi

failed=0
if [[ " ${packages[*]} " == *" postgresql "* ]] && ! have_pg_server; then
    log "ERROR: postgresql installed but no initdb found under /usr/lib/postgresql/*/bin" >&2
    failed=1
fi
if [[ " ${packages[*]} " == *" chromium "* ]] && ! have_chromium; then
    log "ERROR: chromium installed but /usr/bin/chromium is missing" >&2
    failed=1
fi
log "installed ${packages[*]} in $((SECONDS - start)) s"
exit "$failed"
