#!/usr/bin/env bash
# Live interop run: MLSKit's `mls interop` against AWS mls-rs.
#
#   Scripts/interop/run.sh [extra scenario.py options, e.g. --tree oob --trace /tmp/t.txt]
#
# Sets up the mls-rs Python binding, builds the Swift `mls` product (debug:
# the scenario is small, and a release build of `mls` compiles the whole HTTP
# stack; set MLS_INTEROP_CONFIG=release to use one), and runs the scenario in
# both directions. Exits non-zero when a step fails.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

"$HERE/setup.sh"

cd "$REPO"
CONFIG="${MLS_INTEROP_CONFIG:-debug}"
swift build -c "$CONFIG" --product mls
BIN="$(swift build -c "$CONFIG" --show-bin-path)/mls"

exec python3 "$HERE/scenario.py" \
    --a mlsrs \
    --b "$BIN interop" --name-b mlskit \
    "$@"
