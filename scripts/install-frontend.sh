#!/usr/bin/env bash
# Install the browser components and put them in webui/static/vendor/ (git-ignored; Flask
# serves it as static files):
#   vendor/bpmn-js/    bpmn-js's ready bundles (viewer, modeler) and CSS
#   vendor/dmn-js/     dmn-js's ready bundles (decision table editor) and CSS
#   vendor/caseflow/   our modeler bundle (webui/frontend/, built with esbuild: properties
#                      panel, token simulation, bpmnlint) and the CSS of those packages
#   vendor/axe-core/   axe.min.js, the accessibility checker the browser tests inject
#                      (tests/e2e/test_accessibility.py); no page of the app loads it
#
# The versions are pinned in webui/package.json and locked in webui/package-lock.json
# (`npm ci`).
#
# Idempotent and fast: when the vendor folder was built from the current lock file and
# frontend sources (a stamp holds their hash) and every file is there, nothing runs.
# Set FORCE=1 to reinstall anyway.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
webui="$root/webui"
vendor_root="$webui/static/vendor"
vendor="$vendor_root/bpmn-js"
stamp="$vendor_root/.installed-from"

log() { printf 'install-frontend: %s\n' "$*"; }

bundles=(
    bpmn-js/bpmn-navigated-viewer.production.min.js
    bpmn-js/bpmn-modeler.production.min.js
    bpmn-js/assets/diagram-js.css
    bpmn-js/assets/bpmn-js.css
    bpmn-js/assets/bpmn-font/css/bpmn-embedded.css
    dmn-js/dmn-modeler.production.min.js
    dmn-js/assets/dmn-js-decision-table.css
    caseflow/modeler.bundle.js
    caseflow/properties-panel.css
    caseflow/bpmn-js-token-simulation.css
    caseflow/bpmn-js-bpmnlint.css
    axe-core/axe.min.js
)

lock_hash() {
    local files=("$webui/package.json")
    [[ -f "$webui/package-lock.json" ]] && files+=("$webui/package-lock.json")
    files+=("$webui"/frontend/*)
    sha256sum "${files[@]}" | sha256sum | cut -d' ' -f1
}

complete() {
    local f
    [[ -f "$stamp" && "$(cat "$stamp")" == "$(lock_hash)" ]] || return 1
    for f in "${bundles[@]}"; do
        [[ -s "$vendor_root/$f" ]] || return 1
    done
}

if [[ "${FORCE:-0}" != "1" ]] && complete; then
    log "browser components up to date in ${vendor_root#"$root"/}"
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

modules="$webui/node_modules"
for f in "$modules/bpmn-js/dist/bpmn-modeler.production.min.js" "$modules/dmn-js/dist/dmn-modeler.production.min.js"; do
    if [[ ! -s "$f" ]]; then
        log "ERROR: $f is missing after the install" >&2
        exit 1
    fi
done

# Build next to the target and swap, so a failed copy or build never leaves half a folder.
tmp="$(mktemp -d "$webui/static/.vendor.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # mktemp makes it private; the web server must read it
mkdir -p "$tmp/bpmn-js" "$tmp/dmn-js" "$tmp/caseflow" "$tmp/axe-core"
dist="$modules/bpmn-js/dist"
cp "$dist/bpmn-navigated-viewer.production.min.js" "$dist/bpmn-modeler.production.min.js" "$tmp/bpmn-js/"
cp -R "$dist/assets" "$tmp/bpmn-js/assets"
cp "$modules/bpmn-js/LICENSE" "$tmp/bpmn-js/LICENSE" 2>/dev/null || true
dist="$modules/dmn-js/dist"
cp "$dist/dmn-modeler.production.min.js" "$dist/dmn-navigated-viewer.production.min.js" "$tmp/dmn-js/"
cp -R "$dist/assets" "$tmp/dmn-js/assets"
cp "$modules/dmn-js/LICENSE" "$tmp/dmn-js/LICENSE" 2>/dev/null || true
log "building the modeler bundle (esbuild)"
"$modules/.bin/esbuild" "$webui/frontend/modeler.js" --bundle --minify --format=iife \
    --target=es2020 --loader:.svg=text --log-level=error \
    --outfile="$tmp/caseflow/modeler.bundle.js"
cp "$modules/@bpmn-io/properties-panel/dist/assets/properties-panel.css" "$tmp/caseflow/"
cp "$modules/bpmn-js-token-simulation/assets/css/bpmn-js-token-simulation.css" "$tmp/caseflow/"
cp "$modules/bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css" "$tmp/caseflow/"
cp "$modules/axe-core/axe.min.js" "$modules/axe-core/LICENSE" "$tmp/axe-core/"
lock_hash >"$tmp/.installed-from"
rm -rf "$vendor_root"
mv "$tmp" "$vendor_root"
trap - EXIT
version() { node -p "require('$modules/$1/package.json').version" 2>/dev/null || echo '?'; }
log "bpmn-js $(version bpmn-js), dmn-js $(version dmn-js) and the modeler bundle in ${vendor_root#"$root"/}"
