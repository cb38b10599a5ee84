#!/usr/bin/env bash
# The action's install steps. Owns where the scantoken binary of a run comes from: the release
# asset pinned for this runner, a binary built earlier and restored from the Actions cache, or
# a build from source with cargo.
#
#   install.sh plan      decides, before the cache is restored: with a SHA-256 pinned for this
#                        runner's asset, source=release (the cache is not used); otherwise
#                        source=build, with the cache key and the folder to cache.
#   install.sh           installs: downloads and checks the pinned asset; or, for a build,
#                        takes the binary restored from the cache when it answers --version as
#                        this version, and builds it with cargo into the cached folder when not.
#
# A pinned release binary always wins over the cache. A download whose checksum does not match
# is refused, never run and never replaced by a source build. With no pinned checksum (or no
# release asset) for this platform, it builds from source, with a ::warning:: when the platform
# is one releases are built for.
#
# The cache key names everything that decides the binary: the version, a hash of the sources
# cargo builds (Cargo.toml, Cargo.lock, src/, and this script, which holds the cargo command),
# the runner's OS, architecture and image (ImageOS: a binary linked against one glibc may not
# run on an older one) and the Rust compiler (release and commit). A different source, runner
# image or toolchain is a new key, so one cached binary is never taken for another.
#
# Reads: GITHUB_ACTION_PATH, RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_OUTPUT, ImageOS,
#        SCANTOKEN_DOWNLOAD_BASE (https://github.com/OWNER/REPO/releases/download),
#        SCANTOKEN_CACHE_DIR (install: the folder the cache step restored into, if any).
# Writes to GITHUB_OUTPUT: plan: source, cache-key, cache-path;
#        install: path=<the scantoken binary>, built=true|false (a binary was built this run).
set -euo pipefail

mode=${1:-install}
case "$mode" in
  plan|install) ;;
  *) echo "::error title=scantoken::install.sh: unknown mode '$mode' (plan or install)"; exit 2 ;;
esac

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
temp=${RUNNER_TEMP:?RUNNER_TEMP is not set}
dest="$temp/scantoken-$version"

# Hashes stdin, not a named file: GNU sha256sum escapes a name holding a backslash (a Windows
# RUNNER_TEMP such as D:\a\_temp) and then prefixes its output line, the hash, with "\".
sha256_stdin() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1
  else shasum -a 256 | cut -d' ' -f1; fi
}
sha256() { sha256_stdin < "$1"; }

asset="scantoken-v$version-$os-$arch.tar.gz"
pinned=""
if [ -n "$os" ] && [ -n "$arch" ]; then
  pinned=$(awk -v a="$asset" '$2 == a { print $1 }' "$action/action/checksums.txt")
fi

# The sources cargo builds the binary from, one "hash  path" line each in a fixed order, hashed
# again: any change to them is a new cache key.
source_hash() {
  (
    cd "$action"
    { printf '%s\n' Cargo.toml Cargo.lock action/install.sh; find src -type f; } |
      LC_ALL=C sort | while IFS= read -r f; do printf '%s  %s\n' "$(sha256 "$f")" "$f"; done
  ) | sha256_stdin
}

# rustc's release and commit, e.g. 1.95.0-59807616e; "none" without a toolchain (the build then
# stops with its own error).
rust_version() {
  local release commit
  release=$(rustc -vV 2>/dev/null | sed -n 's/^release: //p') || true
  commit=$(rustc -vV 2>/dev/null | sed -n 's/^commit-hash: //p') || true
  if [ -n "$release" ]; then echo "$release-${commit:0:9}"; else echo none; fi
}

if [ "$mode" = plan ]; then
  if [ -n "$pinned" ]; then
    echo "scantoken: v$version for $os-$arch comes from the release, SHA-256 pinned"
    echo "source=release" >> "$GITHUB_OUTPUT"
    exit 0
  fi
  image=${ImageOS:-self-hosted}
  key="scantoken-v$version-${RUNNER_OS:-unknown}-${RUNNER_ARCH:-unknown}-$image-rustc-$(rust_version)-$(source_hash)"
  # A cache key may not hold a comma and is at most 512 characters; keep it to plain characters.
  key=$(printf '%s' "$key" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-512)
  echo "scantoken: no pinned release binary for this runner; cache key $key"
  {
    echo "source=build"
    echo "cache-key=$key"
    echo "cache-path=$temp/scantoken-build"
  } >> "$GITHUB_OUTPUT"
  exit 0
fi

build_from_source() {
  local root=${SCANTOKEN_CACHE_DIR:-$dest}
  local bin="$root/bin/$exe"
  if [ -n "${SCANTOKEN_CACHE_DIR:-}" ] && [ -e "$bin" ]; then
    # The Actions cache is written by this repository's own workflows; still, run only what
    # answers as this very version, and rebuild anything else.
    local answer
    answer=$("$bin" --version 2>/dev/null || true)
    if [ "$answer" = "scantoken $version" ]; then
      echo "scantoken: v$version restored from the Actions cache (built earlier on this key)"
      echo "path=$bin" >> "$GITHUB_OUTPUT"
      echo "built=false" >> "$GITHUB_OUTPUT"
      return
    fi
    echo "::warning title=scantoken::the cached binary does not answer as scantoken $version; building it again"
    rm -rf "$root"
  fi
  echo "scantoken: $1; building v$version from source with cargo"
  command -v cargo >/dev/null 2>&1 || {
    echo "::error title=scantoken::no release binary fits this runner ($RUNNER_OS/$RUNNER_ARCH) and cargo is not installed"
    exit 1
  }
  cargo install --locked --quiet --path "$action" --bin scantoken --root "$root"
  echo "path=$bin" >> "$GITHUB_OUTPUT"
  echo "built=true" >> "$GITHUB_OUTPUT"
}

mkdir -p "$dest"
if [ -z "$pinned" ]; then
  if [ -n "$os" ] && [ -n "$arch" ]; then
    # A supported platform should have a pinned binary once a release exists: say so loudly.
    echo "::warning title=scantoken::no SHA-256 pinned for $asset in action/checksums.txt; building from source with cargo instead (slower; needs a Rust toolchain; cached for later runs)"
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
echo "built=false" >> "$GITHUB_OUTPUT"
