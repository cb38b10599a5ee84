#!/usr/bin/env bash
# The main job on an embedded default: `scantoken export` for a sample GitHub pull-request
# job (examples/demo/), verified against the bundled Sonar emulator acting as SonarQube Cloud.
# No Sonar account needed. Pass another project key to see a failing verdict:
#   ./scripts/demo.sh acme_docs      # no-scan-permission: the token is scoped to acme_payments
set -euo pipefail
cd "$(dirname "$0")/.."
project=${1:-acme_payments}

# A fresh clone builds first (about 2 minutes on 2 cores, silent): say so before it starts.
if [ ! -x target/debug/scantoken ] || [ ! -x target/debug/sonar-emulator ]; then
  echo "== building scantoken and the Sonar emulator (cargo build; the first build takes a few minutes)"
fi
cargo build --quiet --bins --workspace
work=$(mktemp -d)
emulator_pid=
cleanup() { [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

target/debug/sonar-emulator --scenario examples/demo/scenario.yaml --ready-file "$work/ready" >"$work/emulator.log" 2>&1 &
emulator_pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
[ -s "$work/ready" ] || { echo "the emulator did not start:"; cat "$work/emulator.log"; exit 1; }
web=$(awk '$1 == "web" {print $2}' "$work/ready")
api=$(awk '$1 == "api" {print $2}' "$work/ready")
echo "== Sonar emulator (SonarQube Cloud): web $web, API $api"

# A GitHub Actions pull_request job: the runner's variables, its event payload, its files.
set -a
# shellcheck disable=SC1091
. examples/demo/github-pull-request.env
set +a
export GITHUB_EVENT_PATH="$PWD/examples/demo/pull_request.json"
export GITHUB_ENV="$work/github_env" GITHUB_OUTPUT="$work/github_output" GITHUB_STEP_SUMMARY="$work/summary.md"
# The pipeline's configuration: a scoped organization token, the organization, the project,
# and the custom Cloud URL pair that points the scanner (and scantoken) at the emulator.
export SONAR_TOKEN="sqco_DEMOdemoDEMOdemoDEMOdemoDEMOdemoDEMOdemoDEMOdemoDEMOdemoDEM"
export SONAR_ORGANIZATION=acme INPUT_PROJECT_KEY="$project"
export SONAR_SCANNER_SONARCLOUD_URL="$web" SONAR_SCANNER_API_BASE_URL="$api"

echo "== scantoken export   (its stdout is for the runner; the token's value is shown as *** here)"
set +e
target/debug/scantoken export | sed -e "s/$SONAR_TOKEN/***/g"
status=${PIPESTATUS[0]}
set -e
echo "== exit code: $status"
if [ -s "$GITHUB_ENV" ]; then
  echo "== GITHUB_ENV as the next steps get it (the token's value replaced by ***):"
  sed -e "s/$SONAR_TOKEN/***/g" "$GITHUB_ENV" | grep -v '^ghadelimiter_'
fi
if [ -s "$GITHUB_OUTPUT" ]; then
  echo "== GITHUB_OUTPUT: the step's outputs (steps.<id>.outputs.verdict gates the scan step):"
  grep -v '^ghadelimiter_' "$GITHUB_OUTPUT" | paste -d' ' - - | sed -e 's/<<.* / = /'
fi
if [ -s "$GITHUB_STEP_SUMMARY" ]; then
  echo "== Step summary:"
  cat "$GITHUB_STEP_SUMMARY"
fi
exit "$status"
