#!/usr/bin/env bash
# Assembles the Azure DevOps extension (.vsix): task.json, the Node wrapper and the scantoken
# binaries, then packs it with tfx (which validates task.json).
#   scripts/build-vsix.sh [OUT_DIR]
# Binaries: $SCANTOKEN_DIST/<platform>-<arch>/scantoken[.exe] (default dist/, where the
# release workflow puts them) when present; otherwise the local release build, for this
# machine's platform only.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/vsix}
stage="$out/stage"
rm -rf "$stage"
mkdir -p "$stage/scantoken-task"
cp task.json azure/index.js "$stage/scantoken-task/"
cp azure/vss-extension.json "$stage/"
found=0
for dir in "${SCANTOKEN_DIST:-dist}"/*-*/; do
  [ -d "$dir" ] || continue
  name=$(basename "$dir")
  mkdir -p "$stage/scantoken-task/bin/$name"
  cp "$dir"/scantoken* "$stage/scantoken-task/bin/$name/"
  found=1
done
if [ "$found" = 0 ]; then
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=macos ;; *) os=windows ;; esac
  cargo build --release --locked -p scantoken
  mkdir -p "$stage/scantoken-task/bin/$os-$arch"
  cp target/release/scantoken "$stage/scantoken-task/bin/$os-$arch/"
fi
tfx=${TFX:-azure/test/node_modules/.bin/tfx}
"$tfx" extension create --root "$stage" --manifest-globs vss-extension.json --output-path "$out" --no-prompt
ls -l "$out"/*.vsix
