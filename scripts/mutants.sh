#!/usr/bin/env bash
# Mutation testing of the core modules with cargo-mutants (pinned below): each mutant changes
# one operator or return value, the tests run, and a mutant no test notices is "missed".
# The core: the modules that decide verdicts, read the CI, choose credentials, resolve the
# target, write the exports, run the scan, and decide which hosts may receive a token.
# docs/testing.md has the scores, the equivalent mutants (.cargo/mutants.toml) and how to
# read a result.
#
#   scripts/mutants.sh                    every core module (hours on a 2-core machine)
#   scripts/mutants.sh --file src/x.rs    one module; any cargo-mutants option passes through
#   scripts/mutants.sh --changed [BASE]   only the core lines changed since BASE (default: the
#                                         first parent, HEAD~1), within a time cap: what CI runs
#
# --changed exits 1 when a mutant is missed and 0 otherwise: no core line changed, no BASE
# in the clone (a shallow checkout), the time cap reached with nothing missed so far, a
# mutant that timed out (a loop the mutant made endless is noticed, not missed). It needs no
# network once cargo-mutants is installed. In CI (CI set, src/ unmodified) it mutates the
# checkout in place, so the builds reuse what the test run built; elsewhere cargo-mutants
# works on a copy, with its own build folder (target/mutants/target).
#
# Results: target/mutants/<run>/mutants.out (missed.txt, caught.txt, log/ per mutant).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=27.1.0
# Seconds --changed may spend testing mutants (each needs a build and a test run, about a
# minute on 2 cores); CI's whole run must stay well inside its 90 minutes.
TIME_CAP="${SCANTOKEN_MUTANTS_TIME_CAP:-1200}"

CORE=(
  src/sonar/mod.rs
  src/sonar/identity.rs
  src/sonar/plan.rs
  src/date.rs
  src/ci/*.rs
  src/credential/*.rs
  src/target.rs
  src/scanner_config.rs
  src/scanner_command.rs
  src/scanner_command/*.rs
  src/trust/*.rs
  src/projects.rs
  src/export/*.rs
  src/output.rs
  src/child.rs
  src/network.rs
)

tools="$PWD/target/tools/cargo-mutants"
if [ "$("$tools/bin/cargo-mutants" mutants --version 2>/dev/null)" != "cargo-mutants $VERSION" ]; then
  echo "installing cargo-mutants $VERSION under target/tools (once)" >&2
  cargo install --locked --quiet --root "$tools" "cargo-mutants@$VERSION"
fi
export PATH="$tools/bin:$PATH"
# The tests that run for each mutant drive the tools scripts/test.sh installs: OpenBao and
# pysonar (the venv), @sonar/scan (npm).
for bin in target/tools/venv/bin target/tools/npm/node_modules/.bin; do
  if [ -d "$bin" ]; then export PATH="$PWD/$bin:$PATH"; fi
done

files=()
for f in "${CORE[@]}"; do files+=(--file "$f"); done
common=(--baseline skip --timeout 180 --build-timeout 900)
# .cargo/mutants.toml asks for nextest, as on the project's machines; plain cargo test where
# it is not installed (as scripts/test.sh does).
if ! cargo nextest --version >/dev/null 2>&1; then common+=(--test-tool cargo); fi

# Before mutating, and after. tests/verify.rs starts the emulator binary from the build
# folder, and cargo-mutants builds only this package: without the emulator a test fails for
# every mutant, and every mutant reads as caught (seen). And a mutant can make
# `scantoken run` spin for ever: cargo-mutants stops the test run at its timeout, but the
# scantoken processes it started are left running, so they are stopped here on exit.
prepare_build_folder() {
  cargo build --quiet -p sonar-emulator
  leftover_binary="$1/debug/scantoken"
  trap 'stop_leftovers "$leftover_binary"' EXIT
}
# Every process whose program is that binary, or an earlier build of it (" (deleted)"), by
# /proc (Linux; elsewhere nothing to do).
stop_leftovers() {
  local exe pid
  for exe in /proc/[0-9]*/exe; do
    case "$(readlink "$exe" 2>/dev/null)" in
      "$1" | "$1 (deleted)")
        pid="${exe#/proc/}"
        kill -KILL "${pid%/exe}" 2>/dev/null || true
        ;;
    esac
  done
}

if [ "${1:-}" != "--changed" ]; then
  out="target/mutants/full"
  mkdir -p "$out"
  # A --file of the caller's replaces the core list.
  for arg in "$@"; do
    case "$arg" in --file | -f | --file=*) files=() ;; esac
  done
  # One mutant at a time in one build folder. Never -j 2 with a shared CARGO_TARGET_DIR:
  # both workers' binaries land on the same target/debug/scantoken, so the tests of one
  # mutant run the other's binary (seen: a mutant that exported nothing passed every test).
  export CARGO_TARGET_DIR="$PWD/target/mutants/target"
  prepare_build_folder "$CARGO_TARGET_DIR"
  status=0
  cargo mutants "${common[@]}" -j 1 "${files[@]}" --output "$out" "$@" || status=$?
  exit "$status"
fi

base="${2:-HEAD~1}"
if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
  echo "mutants: $base is not in this clone (shallow?): no changed lines to test, skipped" >&2
  exit 0
fi
out="target/mutants/changed"
rm -rf "$out"
mkdir -p "$out"
diff="$out/changes.diff"
git diff "$base" -- "${CORE[@]}" >"$diff"
if [ ! -s "$diff" ]; then
  echo "mutants: no core line changed since $base" >&2
  exit 0
fi

in_place=()
if [ -n "${CI:-}" ] && git diff --quiet HEAD -- src; then in_place=(--in-place); fi
status=0
if [ ${#in_place[@]} -gt 0 ]; then
  prepare_build_folder "${CARGO_TARGET_DIR:-$PWD/target}"
  timeout --signal=INT --kill-after=60 "$TIME_CAP" \
    cargo mutants "${common[@]}" "${files[@]}" --in-diff "$diff" --output "$out" --in-place || status=$?
  # An interrupted in-place run restores the file it mutated; make sure of it.
  git diff --quiet HEAD -- src || git checkout --quiet HEAD -- src
else
  export CARGO_TARGET_DIR="$PWD/target/mutants/target"
  prepare_build_folder "$CARGO_TARGET_DIR"
  timeout --signal=INT --kill-after=60 "$TIME_CAP" \
    cargo mutants "${common[@]}" -j 1 "${files[@]}" --in-diff "$diff" --output "$out" || status=$?
fi

result="$out/mutants.out"
if [ -s "$result/missed.txt" ]; then
  echo "mutants: missed, changed since $base (add a test that fails with the change, or list it as equivalent in .cargo/mutants.toml with the reason):" >&2
  cat "$result/missed.txt" >&2
  exit 1
fi
case "$status" in
  0) echo "mutants: no mutant of the core lines changed since $base was missed" >&2 ;;
  124 | 130) echo "mutants: time cap (${TIME_CAP}s) reached; none missed among those tested" >&2 ;;
  3) echo "mutants: none missed; some timed out (see $result/timeout.txt)" >&2 ;;
  1 | 70)
    # A usage or internal error: this script or the configuration is wrong, and would go
    # on testing nothing if let pass.
    echo "mutants: cargo-mutants failed (status $status, see $result/debug.log if it was written)" >&2
    exit 1
    ;;
  *) echo "mutants: cargo-mutants ended with status $status and reported no missed mutant (see $result/debug.log)" >&2 ;;
esac
exit 0
