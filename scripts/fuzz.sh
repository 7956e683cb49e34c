#!/usr/bin/env bash
# npm run fuzz: runs every fuzz target of fuzz/ briefly, one after the other, and
# fails if any of them finds a crash (a panic, a broken invariant or a sanitizer
# report). See fuzz/README.md.
#
#   FUZZ_SECONDS=10   seconds per target (libFuzzer -max_total_time)
#   FUZZ_RUNS=N       stop each target after N executions instead (-runs)
#   FUZZ_TARGETS="ipv4 tun_pi"   only these targets
#   FUZZ_LOG_DIR=dir  keep each target's libFuzzer log as dir/<target>.log and the
#                     corpus it grew in dir/corpus/<target>/
#
# The committed seeds (fuzz/corpus/<target>/) are only read: what a run discovers goes
# to a scratch directory that is removed afterwards. A crashing input is kept in
# fuzz/artifacts/<target>/ and named in the summary.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
seconds=${FUZZ_SECONDS:-10}
runs=${FUZZ_RUNS:-}

die() {
  printf 'fuzz: %s\n' "$1" >&2
  exit 2
}

case $seconds in '' | *[!0-9]*) die "FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" ;; esac
case $runs in *[!0-9]*) die "FUZZ_RUNS must be a whole number, not '$runs'" ;; esac

command -v cargo >/dev/null 2>&1 || die "cargo is needed (Rust from rustup, with a nightly toolchain and cargo-fuzz)"
if ! cargo +nightly --version >/dev/null 2>&1; then
  die "a nightly Rust toolchain is needed (cargo-fuzz builds with -Zsanitizer): install it with 'rustup toolchain install nightly'"
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  die "cargo-fuzz is needed: install it with 'cargo install cargo-fuzz --locked'"
fi

mapfile -t all < <(cargo +nightly fuzz list --fuzz-dir fuzz)
[ ${#all[@]} -gt 0 ] || die "cargo fuzz list found no target in fuzz/"
if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
  for t in "${targets[@]}"; do
    printf '%s\n' "${all[@]}" | grep -qx -- "$t" || die "no fuzz target named '$t' (targets: ${all[*]})"
  done
else
  targets=("${all[@]}")
fi

# Overflow checks and debug assertions on, release optimisation, AddressSanitizer.
build_flags=(--fuzz-dir fuzz --debug-assertions)
echo "fuzz: building ${#targets[@]} target(s)"
cargo +nightly fuzz build "${build_flags[@]}" || die "the fuzz targets did not build"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/pltap-fuzz.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$scratch"' EXIT

limit=(-max_total_time="$seconds")
[ -n "$runs" ] && limit=(-runs="$runs")

failed=()
summary=()
for t in "${targets[@]}"; do
  echo "fuzz: running $t (${limit[*]})"
  grown="$scratch/$t"
  log="$scratch/$t.log"
  if [ -n "${FUZZ_LOG_DIR:-}" ]; then
    grown="$FUZZ_LOG_DIR/corpus/$t"
    log="$FUZZ_LOG_DIR/$t.log"
  fi
  mkdir -p "$grown" "fuzz/artifacts/$t" || die "cannot create $grown"
  cargo +nightly fuzz run "${build_flags[@]}" "$t" "$grown" "fuzz/corpus/$t" -- \
    "${limit[@]}" -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    # The panic or sanitizer report and the input, without cargo-fuzz's own backtrace.
    { grep -E -A12 'panicked at|==ERROR|ERROR: libFuzzer|SUMMARY:' "$log" | head -60; grep -E 'Test unit written|^Base64' "$log"; } >&2
    crash=$(grep -oE "fuzz/artifacts/$t/[^ ]+" "$log" | tail -1)
    failed+=("$t${crash:+ ($crash)}")
    summary+=("$(printf '%-24s FAILED (exit %s) %s' "$t" "$rc" "$crash")")
  else
    summary+=("$(printf '%-24s ok  %12s execs in %6s s  %8s exec/s  %s' "$t" "${execs:-?}" "${secs:-?}" "${speed:-?}" "${cov:-}")")
  fi
done

echo
echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: %d target(s) found a crash: %s\n' "${#failed[@]}" "${failed[*]}" >&2
  echo "fuzz: reproduce with: cargo +nightly fuzz run --fuzz-dir fuzz --debug-assertions <target> <artifact>" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s) ran clean"
