#!/usr/bin/env bash
# Creates Scripts/interop/.venv and installs the pinned mls-rs Python binding.
# Idempotent: reuses an existing venv and skips the install when the pinned
# version is already present.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
PKG="agentvault-mls-rs-uniffi"
VERSION="0.1.1"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi

installed="$("$VENV/bin/python" -m pip show "$PKG" 2>/dev/null | sed -n 's/^Version: //p' || true)"
if [ "$installed" != "$VERSION" ]; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "$PKG==$VERSION"
fi

installed="$("$VENV/bin/python" -m pip show "$PKG" | sed -n 's/^Version: //p')"
echo "$PKG $installed installed in $VENV"
