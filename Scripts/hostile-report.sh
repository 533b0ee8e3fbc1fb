#!/usr/bin/env bash
# The worst-case input table of Docs/Security.md: runs each case of HostileCostReport (Tests/
# MLSTests/HostileCostReport.swift) in its own test process and prints, per entry point, the
# input's size, the CPU time and peak memory of the entry point alone, and what it did. A case
# whose process dies (a trap) or runs past the timeout is reported as such.
#
# Usage: Scripts/hostile-report.sh [--package-path DIR] [--timeout SECONDS] [CASE...]
# Build first: swift build --build-tests (the report runs with --skip-build).
set -uo pipefail
package="."
limit=600
cases=()
while [ $# -gt 0 ]; do
  case "$1" in
    --package-path) package="$2"; shift 2 ;;
    --timeout) limit="$2"; shift 2 ;;
    *) cases+=("$1"); shift ;;
  esac
done
if [ ${#cases[@]} -eq 0 ]; then
  cases=(join-unmerged-2^31 join-epoch-max join-blank-tree externalJoin-blank-tree join-unmerged-quadratic
         keyPackage-capabilities process-join-proposal)
fi
printf '| case | input bytes | CPU s | peak MiB | outcome |\n|---|---:|---:|---:|---|\n'
for c in "${cases[@]}"; do
  out="$(MLS_HOSTILE_CASE="$c" timeout "$limit" swift test --package-path "$package" --skip-build --filter HostileCostReport 2>&1)"
  status=$?
  result="$(grep -a -m1 '^HOSTILE-RESULT ' <<<"$out")"
  size="$(grep -a -m1 -o 'HOSTILE-START [^ ]* size=[0-9]*' <<<"$out" | sed 's/.*size=//')"
  if [ -n "$result" ]; then
    cpu="$(sed 's/.* cpu=\([^ ]*\)s.*/\1/' <<<"$result")"
    peak="$(sed 's/.* peak=+\([0-9]*\)MiB.*/\1/' <<<"$result")"
    outcome="$(sed 's/.* outcome=//' <<<"$result" | cut -c1-110)"
    printf '| %s | %s | %s | %s | %s |\n' "$c" "$size" "$cpu" "$peak" "$outcome"
  elif [ $status -eq 124 ]; then
    printf '| %s | %s | > %s | ? | still running after %s s (timeout) |\n' "$c" "${size:-?}" "$limit" "$limit"
  else
    why="$(grep -a -m1 -o -E 'Swift runtime failure: [^*]*|(Fatal error|fatal error).{0,80}' <<<"$out" || grep -a -m1 -o -E 'Signal [0-9]+' <<<"$out")"
    printf '| %s | %s | ? | ? | process died (exit %s): %s |\n' "$c" "${size:-?}" "$status" "$(cut -c1-100 <<<"$why")"
  fi
done
