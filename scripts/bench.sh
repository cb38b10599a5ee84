#!/usr/bin/env bash
# Benchmarks: builds the release binary, then runs the harness (bench/), which prints
# Markdown tables for BENCHMARKS.md (summary, targets, every run's values).
#
#   scripts/bench.sh             # 15 runs per configuration (the published figures)
#   scripts/bench.sh --runs 2    # a smoke run of the harness
#   scripts/bench.sh --projects  # verify --projects over a 50-project monorepo (issue 23)
#
# The release workflow ships x86_64-unknown-linux-musl for Linux x64. When that target is
# installed (rustup target list --installed) this measures the musl build, as shipped;
# otherwise the host's (glibc) release build, and says so. BENCH_TARGET=host forces the
# host build.
set -euo pipefail
cd "$(dirname "$0")/.."

musl=x86_64-unknown-linux-musl
target=host
why="not installed here (rustup target list --installed)"
if [[ "${BENCH_TARGET:-auto}" == host ]]; then
  why="not measured: BENCH_TARGET=host"
elif [[ "$(uname -m)" != x86_64 ]]; then
  why="not measured: this host is $(uname -m)"
elif rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
  if ! command -v musl-gcc >/dev/null; then
    echo "bench.sh: $musl is installed but musl-gcc is not (apt-get install musl-tools, as the release workflow does), or set BENCH_TARGET=host" >&2
    exit 2
  fi
  target=$musl
fi

if [[ "$target" == host ]]; then
  host=$(rustc -vV | sed -n 's/^host: //p')
  echo "bench.sh: measuring the host release build ($host); the release workflow ships $musl, $why" >&2
  cargo build --release --locked -p scantoken
  binary=$PWD/target/release/scantoken
  label="$host release build, not the shipped $musl"
else
  echo "bench.sh: measuring the $musl release build, as the release workflow ships it" >&2
  cargo build --release --locked -p scantoken --target "$target"
  binary=$PWD/target/$target/release/scantoken
  label="$target release build, as shipped"
fi

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
echo "Produced by \`scripts/bench.sh${*:+ $*}\` on $(date -u +%Y-%m-%d): $(uname -srm), $(nproc) cores (${cpu:-unknown CPU}), ${mem:-unknown memory}, $(rustc -V); load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
cargo run --release --locked -p scantoken-bench -- --target "$label" "$binary" "$@"
