#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (a separate package; the root's `swift build`/`swift test`
# never compile them), makes their seed corpora, runs each for S seconds, and collects crashes.
#
# Usage: Scripts/fuzz.sh [--seconds S] [--no-generated] [TARGET...]
#   --seconds S      run each target S seconds (default 30)
#   --no-generated   skip seeds from `mls vectors generate` (saves building the root CLI)
#   TARGET           any of the targets below (default: all)
#
# Seeds (Fuzz/corpus/<target>/, git-ignored): hex fields of the official vectors (looked up as
# Scripts/vectors.sh does: $MLS_TEST_VECTORS, ../shared/mls-test-vectors, .vectors/), of the
# vectors `mls vectors generate` writes, and what targets write themselves (FuzzGroupState: states
# of real groups; FuzzMatrix: choice streams selecting each path of its generator).
# Crashes (and timeouts, OOMs) land in Fuzz/Crashes/<target>/; committed inputs there are also
# replayed as seeds, so a regression crashes at once. The last line is `N targets, M crashes`;
# the exit status is 1 when M > 0.
#
# Needs only the Swift toolchain (its clang ships libclang_rt.fuzzer and asan) and python3.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$root/Fuzz"
all=(FuzzMLSMessage FuzzGroupInfo FuzzKeyPackage FuzzWelcome FuzzRatchetTree FuzzGroupState FuzzJoin FuzzExternalJoin FuzzProcess FuzzMatrix)
seconds=30
generated=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a value}"; shift 2 ;;
    --no-generated) generated=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target $t (known: ${all[*]})" >&2; exit 2; }
done

echo "fuzz: building the fuzz targets with -sanitize=fuzzer,address" >&2
build=(swift build -c release --package-path "$fuzz" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
# All targets at once (SwiftPM honours only one --product; they share nearly all the work).
nice -n 10 "${build[@]}" >&2 || { echo "fuzz: build failed" >&2; exit 2; }
bin="$(nice -n 10 "${build[@]}" --show-bin-path)"

# Seeds.
vectors=()
for d in "${MLS_TEST_VECTORS:-}" "$root/../shared/mls-test-vectors" "$root/.vectors"; do
  if [ -n "$d" ] && [ -d "$d" ] && ls "$d"/*.json >/dev/null 2>&1; then vectors+=("$d"); break; fi
done
[ ${#vectors[@]} -eq 0 ] && echo "fuzz: no official vectors found (run Scripts/vectors.sh); seeding from generated vectors only" >&2
if [ "$generated" = 1 ]; then
  gen="$fuzz/corpus/.generated-vectors"
  if [ ! -d "$gen" ] || ! ls "$gen"/*.json >/dev/null 2>&1; then
    echo "fuzz: generating vectors with the root package's CLI" >&2
    mkdir -p "$gen"
    nice -n 10 swift run --package-path "$root" mls vectors generate "$gen" >&2 || echo "fuzz: mls vectors generate failed; going on without" >&2
  fi
  vectors+=("$gen")
fi
python3 "$fuzz/seeds.py" "$fuzz/corpus" "${vectors[@]}" >&2
for t in FuzzGroupState FuzzMatrix; do
  if [[ " ${targets[*]} " == *" $t "* ]]; then
    FUZZ_SEEDS_DIR="$fuzz/corpus/$t" SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 \
      "$bin/$t" -runs=0 >/dev/null 2>&1 || echo "fuzz: $t seed generation failed" >&2
  fi
done

# Runs. Swift's own backtracer is off so libFuzzer/ASan report traps (SIGILL) with a symbolized
# stack; LeakSanitizer is off because Swift's spare-bit pointer packing hides references from
# it (it reports the fixtures held in globals as leaked).
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:handle_abort=1:handle_sigill=1:symbolize=1"
total_crashes=0
summary=()
for t in "${targets[@]}"; do
  corpus="$fuzz/corpus/$t"
  crashes="$fuzz/Crashes/$t"
  mkdir -p "$corpus" "$crashes"
  case "$t" in
    FuzzJoin|FuzzExternalJoin|FuzzProcess) maxlen=1024 ;;
    # Mostly a choice stream (a few hundred bytes reach every event shape); the raw mode reads
    # the rest of the input as the /sync body, so leave room for a document of some events.
    FuzzMatrix) maxlen=8192 ;;
    *) maxlen=262144 ;;
  esac
  before="$(ls "$crashes" | grep -E '^(crash|timeout|oom|leak|slow-unit)-' | sort)"
  log="$fuzz/corpus/$t.log"
  echo "fuzz: running $t for ${seconds}s (log: $log)" >&2
  nice -n 10 "$bin/$t" "$corpus" "$crashes" \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 -max_len="$maxlen" \
    -detect_leaks=0 -artifact_prefix="$crashes/" >"$log" 2>&1
  rc=$?
  after="$(ls "$crashes" | grep -E '^(crash|timeout|oom|leak|slow-unit)-' | sort)"
  new="$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' | grep -v '^slow-unit-' || true)"
  n=0
  [ -n "$new" ] && n="$(echo "$new" | wc -l)"
  if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then
    # No new artifact: a committed input still crashes (libFuzzer rewrote the same file), or the
    # target died without one (e.g. during start-up). Either way it counts as a crash.
    n=1
    known="$(grep -Eo 'Test unit written to .*' "$log" | tail -1 | sed 's/^Test unit written to //')"
    if [ -n "$known" ]; then new="$(basename "$known") (known, still crashes)"; else new="(no artifact, exit $rc; see $log)"; fi
  fi
  execs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$' || true)"
  [ -z "$execs" ] && execs="$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)"
  [ -z "$execs" ] && execs=0
  line="$t: $execs executions, $n crashes"
  if [ "$n" -gt 0 ]; then
    while IFS= read -r f; do line+=$'\n'"  $crashes/$f"; done <<<"$new"
    reason="$(grep -E 'Fatal error|runtime failure|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY' "$log" | head -3 | sed 's/^/    /')"
    [ -n "$reason" ] && line+=$'\n'"$reason"
  fi
  summary+=("$line")
  total_crashes=$((total_crashes + n))
done
for line in "${summary[@]}"; do echo "$line"; done
echo "${#targets[@]} targets, $total_crashes crashes"
[ "$total_crashes" -eq 0 ]
