#!/usr/bin/env bash
# Benchmarks: builds the release binary, then runs the harness (bench/), which prints
# Markdown tables for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p scantoken
cargo run --release --locked -p scantoken-bench -- "$PWD/target/release/scantoken"
