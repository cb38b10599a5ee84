#!/usr/bin/env bash
# The action's install step: fetch the release asset for this runner's OS and architecture,
# check it against the SHA-256 pinned in action/checksums.txt, and unpack it; with no pinned
# checksum (or no release asset) for this platform, build from source with cargo, with a
# ::warning:: when the platform is one releases are built for. A download whose checksum does
# not match is refused, never run and never replaced by a source build.
#
# Reads: GITHUB_ACTION_PATH, RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_OUTPUT,
#        SCANTOKEN_DOWNLOAD_BASE (https://github.com/OWNER/REPO/releases/download).
# Writes: path=<the scantoken binary> to GITHUB_OUTPUT.
set -euo pipefail

action=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$action/Cargo.toml" | head -n 1)
[ -n "$version" ] || { echo "::error title=scantoken::cannot read the version from $action/Cargo.toml"; exit 1; }

case "${RUNNER_OS:-}" in
  Linux) os=linux ;;
  macOS) os=macos ;;
  Windows) os=windows ;;
  *) os="" ;;
esac
case "${RUNNER_ARCH:-}" in
  X64) arch=x64 ;;
  ARM64) arch=arm64 ;;
  *) arch="" ;;
esac
exe=scantoken
[ "$os" = windows ] && exe=scantoken.exe
dest="${RUNNER_TEMP:?RUNNER_TEMP is not set}/scantoken-$version"
mkdir -p "$dest"

# Hashes stdin, not a named file: GNU sha256sum escapes a name holding a backslash (a Windows
# RUNNER_TEMP such as D:\a\_temp) and then prefixes its output line, the hash, with "\".
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum < "$1" | cut -d' ' -f1
  else shasum -a 256 < "$1" | cut -d' ' -f1; fi
}

build_from_source() {
  echo "scantoken: $1; building v$version from source with cargo"
  command -v cargo >/dev/null 2>&1 || {
    echo "::error title=scantoken::no release binary fits this runner ($RUNNER_OS/$RUNNER_ARCH) and cargo is not installed"
    exit 1
  }
  cargo install --locked --quiet --path "$action" --bin scantoken --root "$dest"
  echo "path=$dest/bin/$exe" >> "$GITHUB_OUTPUT"
}

asset="scantoken-v$version-$os-$arch.tar.gz"
pinned=""
if [ -n "$os" ] && [ -n "$arch" ]; then
  pinned=$(awk -v a="$asset" '$2 == a { print $1 }' "$action/action/checksums.txt")
fi
if [ -z "$pinned" ]; then
  if [ -n "$os" ] && [ -n "$arch" ]; then
    # A supported platform should have a pinned binary once a release exists: say so loudly.
    echo "::warning title=scantoken::no SHA-256 pinned for $asset in action/checksums.txt; building from source with cargo instead (slower; needs a Rust toolchain)"
    build_from_source "no pinned release binary for $asset"
  else
    build_from_source "no release binary for this runner (RUNNER_OS=${RUNNER_OS:-}, RUNNER_ARCH=${RUNNER_ARCH:-})"
  fi
  exit 0
fi

base=${SCANTOKEN_DOWNLOAD_BASE:?SCANTOKEN_DOWNLOAD_BASE is not set}
if ! curl --fail --silent --show-error --location --retry 3 --retry-delay 2 --connect-timeout 10 \
  --output "$dest/$asset" "$base/v$version/$asset"; then
  echo "::warning title=scantoken::the release asset $asset could not be downloaded from $base; building from source with cargo instead"
  build_from_source "the release asset $asset could not be downloaded"
  exit 0
fi
actual=$(sha256 "$dest/$asset")
if [ "$actual" != "$pinned" ]; then
  rm -f "$dest/$asset"
  echo "::error title=scantoken::checksum mismatch for $asset: expected $pinned (pinned in action/checksums.txt), got $actual. Refusing to run it."
  exit 1
fi
# Extract from inside the directory: on Windows runners RUNNER_TEMP is D:\..., and GNU tar (Git
# Bash's) reads an archive name with a colon before the first slash as host:file.
(cd "$dest" && tar -xzf "$asset")
[ -x "$dest/$exe" ] || { echo "::error title=scantoken::$asset does not contain $exe"; exit 1; }
echo "scantoken: v$version for $os-$arch, SHA-256 $actual verified"
echo "path=$dest/$exe" >> "$GITHUB_OUTPUT"
