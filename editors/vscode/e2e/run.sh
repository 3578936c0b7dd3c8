#!/usr/bin/env bash
# End-to-end test of the VS Code extension: the .vsix installed in code-server (a real VS Code),
# driven by Playwright with Debian's headless Chromium, against the real santa-lsp with a tiny
# random model. Leaves the screenshot at e2e/.work/screenshot.png (or $E2E_SCREENSHOT).
#
#   bash editors/vscode/e2e/run.sh           # from anywhere; PYTHON=... picks the environment
#
# Needs: node 20 + npm, a Python environment with santa-lsp installed (or the repository on
# PYTHONPATH), a C/C++ toolchain (three small native modules of code-server are built here),
# and /usr/bin/chromium (installed with apt-get when missing and running as root).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXT=$(dirname "$HERE")
ROOT=$(cd "$EXT/../.." && pwd)
WORK=${E2E_WORK:-$HERE/.work}
PYTHON=${PYTHON:-$(command -v python3)}
CHROMIUM=${E2E_CHROMIUM:-/usr/bin/chromium}
mkdir -p "$WORK"
start=$(date +%s)
say() { echo "[run.sh $(($(date +%s) - start))s] $*"; }

# 1. Chromium from Debian (Playwright's own browser download does not work offline).
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing chromium with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "chromium not found at $CHROMIUM: apt-get install chromium, or set E2E_CHROMIUM" >&2
    exit 1
  fi
fi

# 2. code-server and playwright-core, without install scripts (they download prebuilt binaries),
#    then code-server's post-install done by hand: VS Code's runtime modules, the links its
#    postinstall.sh makes, and the native modules it needs built from source with node-gyp.
cd "$HERE"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci (e2e: code-server, playwright-core)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
CS=$HERE/node_modules/code-server
VSC=$CS/lib/vscode
if [ ! -f "$CS/.santa-e2e-ready" ]; then
  say "preparing code-server (VS Code modules, native builds)"
  (cd "$VSC" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  ln -sfn node_modules "$VSC/node_modules.asar"
  ln -sfn code-linux.sh "$VSC/bin/remote-cli/code-server"
  ln -sfn browser-linux.sh "$VSC/bin/helpers/browser.sh"
  GYP=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
  if [ ! -f "$GYP" ]; then GYP=""; fi
  gyp() {
    local nodedir=()
    if [ -f /usr/include/node/node.h ]; then nodedir=(--nodedir=/usr); fi
    if [ -n "$GYP" ]; then node "$GYP" rebuild "${nodedir[@]}" -j 2 "$@"; else npx --yes node-gyp@11 rebuild "${nodedir[@]}" -j 2 "$@"; fi
  }
  ARGON2=$(node -e "console.log(require('path').dirname(require.resolve('argon2/package.json', {paths: ['$CS']})))")
  (cd "$ARGON2" && gyp --module_name=argon2 --module_path="$ARGON2/lib/binding/napi-v3" --napi_build_version=3 >"$WORK/gyp-argon2.log" 2>&1)
  (cd "$VSC/node_modules/@vscode/spdlog" && gyp >"$WORK/gyp-spdlog.log" 2>&1)
  (cd "$VSC/node_modules/native-watchdog" && gyp >"$WORK/gyp-watchdog.log" 2>&1)
  touch "$CS/.santa-e2e-ready"
fi

# 3. The extension's .vsix.
cd "$EXT"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci (extension)"
  npm ci --no-audit --no-fund --loglevel=error
fi
say "packaging the extension"
npm run --silent package >"$WORK/vsce.log" 2>&1 || { cat "$WORK/vsce.log"; exit 1; }

# 4. A tiny random model that writes printable text (the ghost text can be compared with the
#    items: several candidates to cycle through, words to accept one by one), and the server
#    command line.
say "making the tiny model"
rm -rf "$WORK/model"
(cd "$ROOT" && "$PYTHON" -c "import sys; sys.path.insert(0, '.'); from pathlib import Path; \
from tests.lsp_support import make_printable_model; make_printable_model(Path(sys.argv[1]), n_positions=256)" "$WORK/model")
BIN=$(dirname "$PYTHON")
if [ -x "$BIN/santa-lsp" ]; then
  SERVER="[\"$BIN/santa-lsp\"]"
else
  SERVER="[\"$PYTHON\", \"-m\", \"santa_lsp.cli\"]"
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi

# 5. The browser test.
say "running the browser test (server: $SERVER)"
cd "$HERE"
E2E_WORK=$WORK E2E_VSIX=$EXT/santa-lsp.vsix E2E_CODE_SERVER=$CS E2E_PYTHON=$PYTHON E2E_SERVER=$SERVER \
  E2E_MODEL=$WORK/model E2E_CHROMIUM=$CHROMIUM E2E_SCREENSHOT=${E2E_SCREENSHOT:-$WORK/screenshot.png} \
  node e2e.mjs
say "done"
