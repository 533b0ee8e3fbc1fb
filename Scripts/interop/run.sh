#!/usr/bin/env bash
# Live interop run: MLSKit's `mls interop` against AWS mls-rs.
#
#   Scripts/interop/run.sh [extra scenario.py options, e.g. --tree oob --trace /tmp/t.txt]
#
# Sets up the mls-rs Python binding, builds the Swift `mls` product in
# release, and runs the scenario in both directions. Exits non-zero when a
# step fails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

"$HERE/setup.sh"

cd "$REPO"
swift build -c release --product mls
BIN="$(swift build -c release --show-bin-path)/mls"

exec python3 "$HERE/scenario.py" \
    --a mlsrs \
    --b "$BIN interop" --name-b mlskit \
    "$@"
