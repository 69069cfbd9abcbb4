#!/usr/bin/env bash
# Install the browser components (bpmn-js) and copy their ready-made bundles to
#   webui/static/vendor/bpmn-js/      (git-ignored; Flask serves it as static files)
#
# No bundler: bpmn-js ships production bundles under dist/. The versions are pinned in
# webui/package.json and locked in webui/package-lock.json (`npm ci`).
#
# Idempotent and fast: when the vendor folder was built from the current lock file
# (a stamp holds the lock file's hash) and every bundle is there, nothing runs.
# Set FORCE=1 to reinstall anyway.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
webui="$root/webui"
vendor="$webui/static/vendor/bpmn-js"
stamp="$vendor/.installed-from"

log() { printf 'install-frontend: %s\n' "$*"; }

bundles=(
    bpmn-navigated-viewer.production.min.js
    bpmn-modeler.production.min.js
    assets/diagram-js.css
    assets/bpmn-js.css
    assets/bpmn-font/css/bpmn-embedded.css
)

lock_hash() {
    if [[ -f "$webui/package-lock.json" ]]; then
        sha256sum "$webui/package.json" "$webui/package-lock.json" | sha256sum | cut -d' ' -f1
    else
        sha256sum "$webui/package.json" | cut -d' ' -f1
    fi
}

complete() {
    local f
    [[ -f "$stamp" && "$(cat "$stamp")" == "$(lock_hash)" ]] || return 1
    for f in "${bundles[@]}"; do
        [[ -s "$vendor/$f" ]] || return 1
    done
}

if [[ "${FORCE:-0}" != "1" ]] && complete; then
    log "bpmn-js bundles up to date in ${vendor#"$root"/}"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    log "ERROR: npm not found; install Node.js 20+ (it brings npm)" >&2
    exit 1
fi

cd "$webui"
if [[ -f package-lock.json ]]; then
    log "npm ci (from package-lock.json)"
    npm ci --no-audit --no-fund --loglevel=error
else
    log "npm install (no package-lock.json yet)"
    npm install --no-audit --no-fund --loglevel=error
fi

dist="$webui/node_modules/bpmn-js/dist"
for f in "${bundles[@]}"; do
    if [[ ! -s "$dist/$f" ]]; then
        log "ERROR: $dist/$f is missing after the install" >&2
        exit 1
    fi
done

# Build next to the target and swap, so a failed copy never leaves half a folder behind.
tmp="$(mktemp -d "$webui/static/.vendor-bpmn-js.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # mktemp makes it private; the web server must read it
cp "$dist/bpmn-navigated-viewer.production.min.js" "$dist/bpmn-modeler.production.min.js" "$tmp/"
cp -R "$dist/assets" "$tmp/assets"
cp "$webui/node_modules/bpmn-js/LICENSE" "$tmp/LICENSE" 2>/dev/null || true
lock_hash >"$tmp/.installed-from"
mkdir -p "$(dirname "$vendor")"
rm -rf "$vendor"
mv "$tmp" "$vendor"
trap - EXIT
version="$(node -p "require('$webui/node_modules/bpmn-js/package.json').version" 2>/dev/null || echo '?')"
log "bpmn-js $version bundles copied to ${vendor#"$root"/}"
