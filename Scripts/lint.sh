#!/usr/bin/env bash
# Lints Sources/ and Tests/ with the toolchain's swift-format and the repository's .swift-format
# (Docs/Style.md says which rules are on and why). Any finding fails: --strict turns warnings into
# errors, and swift-format exits 1 on an error.
#
# Only the rule pass runs. The pretty printer's whitespace findings (indentation, line breaks,
# line length) cannot be switched off one by one in .swift-format, and the code is laid out in
# a way the pretty printer does not produce (continuation lines aligned under the opening
# parenthesis), so they would flag nearly every file; swift-format's own flag skips that pass.
#
# Usage: Scripts/lint.sh [PATH...]   (default: Sources Tests)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then set -- Sources Tests; fi
exec swift format lint --strict --debug-disable-pretty-print --recursive --configuration .swift-format "$@"
