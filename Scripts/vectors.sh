#!/usr/bin/env bash
# Obtains the official MLS test vectors (mlswg/mls-implementations, test-vectors/) for
# `mls vectors verify` and `swift test`. They are looked up in this order, everywhere
# (OfficialVectors.locate in MLSVectors implements the same order):
#   1. $MLS_TEST_VECTORS
#   2. ../shared/mls-test-vectors beside the checkout
#   3. the cache .vectors/ in the checkout (ignored by git)
# When neither of the first two exists and the cache is empty, the cache is filled: from DIR with
# --from DIR, else by downloading the pinned commit named in TestVectors/official.sha256. Every
# cached file must match that manifest's SHA-256; a mismatch leaves the cache untouched.
#
# Usage: Scripts/vectors.sh [--from DIR] [--require]
#   --from DIR   fill the cache from a local copy instead of the network (implies --require)
#   --require    exit 1 when no vectors could be found or obtained (CI); without it a missing
#                network is reported in one line and the script exits 0, so the setup goes on
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$root/TestVectors/official.sha256"
cache="$root/.vectors"
from=""
require=0
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from="${2:?--from needs a directory}"; require=1; shift 2 ;;
    --require) require=1; shift ;;
    *) echo "usage: Scripts/vectors.sh [--from DIR] [--require]" >&2; exit 2 ;;
  esac
done

commit="$(awk '$1 == "commit" { print $2 }' "$manifest")"
files=()
while read -r _ name; do files+=("$name"); done < <(grep -E '^[0-9a-f]{64} ' "$manifest")

# Checks every manifest file in $1; prints nothing and returns 0 when all match.
matches_manifest() {
  (cd "$1" && grep -E '^[0-9a-f]{64} ' "$manifest" | sha256sum --check --quiet --strict >/dev/null 2>&1)
}

fail_or_warn() {
  echo "vectors: $1" >&2
  if [ "$require" -eq 1 ]; then exit 1; fi
  exit 0
}

if [ -z "$from" ]; then
  if [ -n "${MLS_TEST_VECTORS:-}" ]; then
    if [ ! -d "$MLS_TEST_VECTORS" ]; then fail_or_warn "MLS_TEST_VECTORS=$MLS_TEST_VECTORS is not a directory"; fi
    note="matches the pinned commit"; matches_manifest "$MLS_TEST_VECTORS" || note="differs from the pinned commit ${commit:0:12}"
    echo "vectors: using \$MLS_TEST_VECTORS=$MLS_TEST_VECTORS ($note)"
    exit 0
  fi
  if [ -d "$root/../shared/mls-test-vectors" ]; then
    shared="$(cd "$root/../shared/mls-test-vectors" && pwd)"
    note="matches the pinned commit"; matches_manifest "$shared" || note="differs from the pinned commit ${commit:0:12}"
    echo "vectors: using $shared ($note)"
    exit 0
  fi
  if [ -d "$cache" ]; then
    if matches_manifest "$cache"; then
      echo "vectors: using the cache $cache (commit ${commit:0:12}, ${#files[@]} files, SHA-256 checked)"
      exit 0
    fi
    echo "vectors: the cache $cache does not match TestVectors/official.sha256; fetching it again" >&2
  fi
fi

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
if [ -n "$from" ]; then
  [ -d "$from" ] || fail_or_warn "--from $from is not a directory"
  for f in "${files[@]}"; do
    [ -f "$from/$f" ] || fail_or_warn "--from $from has no $f"
    cp "$from/$f" "$staging/$f"
  done
  origin="$from"
else
  # MLS_VECTORS_ARCHIVE_URL points elsewhere (a mirror, or a file:// archive for testing).
  url="${MLS_VECTORS_ARCHIVE_URL:-https://codeload.github.com/mlswg/mls-implementations/tar.gz/$commit}"
  if ! curl -fsSL --connect-timeout 15 --max-time 300 "$url" -o "$staging/archive.tar.gz" 2>"$staging/curl.err"; then
    fail_or_warn "cannot download the official vectors ($(tr -d '\n' < "$staging/curl.err" | cut -c1-120)); point MLS_TEST_VECTORS at a copy of mlswg/mls-implementations/test-vectors, or run Scripts/vectors.sh --from DIR"
  fi
  tar -xzf "$staging/archive.tar.gz" -C "$staging" --strip-components=2 --wildcards '*/test-vectors/*.json'
  origin="mlswg/mls-implementations@${commit:0:12}"
fi

if ! matches_manifest "$staging"; then
  bad="$(cd "$staging" && grep -E '^[0-9a-f]{64} ' "$manifest" | sha256sum --check 2>/dev/null | grep -v ': OK$' | cut -d: -f1 | tr '\n' ' ' || true)"
  fail_or_warn "files from $origin do not match TestVectors/official.sha256: $bad(cache left as it was)"
fi
rm -rf "$cache.new"
mkdir -p "$cache.new"
for f in "${files[@]}"; do cp "$staging/$f" "$cache.new/$f"; done
echo "$commit" > "$cache.new/COMMIT"
rm -rf "$cache"
mv "$cache.new" "$cache"
echo "vectors: cached ${#files[@]} files from $origin in $cache (SHA-256 checked against TestVectors/official.sha256)"
