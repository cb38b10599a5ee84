#!/usr/bin/env bash
# The action's install steps. Owns where the scantoken binary of a run comes from: the release
# asset pinned for this runner, a binary built earlier and restored from the Actions cache, or
# a build from source with cargo.
#
#   install.sh plan      decides, before the cache is restored: with a SHA-256 pinned for this
#                        runner's asset, source=release; otherwise source=build (and, with no
#                        Rust toolchain, fails naming cargo). Either way, where a toolchain
#                        runs, the cache key and the folder to cache for a source build (a
#                        release whose download fails falls back to one).
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
# The toolchain is the runner's own, never the calling repository's: rustup picks a toolchain
# from a rust-toolchain.toml (or a `rustup override`) in the current directory and its
# parents, and a step's current directory is the caller's GITHUB_WORKSPACE. So rustc and cargo
# run from RUNNER_TEMP, outside the workspace (a pinned RUSTUP_TOOLCHAIN in the job's
# environment is the job's explicit choice, and is kept).
#
# A pinned release whose download fails falls back to a build too; that build is cached under
# the same key as any other, and restored by later runs whose download fails again.
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

# rustc and cargo as the runner has them: run from RUNNER_TEMP, so that no rust-toolchain.toml
# or rustup override of the caller's workspace picks another toolchain.
runner_rust() { (cd "$temp" && "$@"); }

# rustc's release and commit, e.g. 1.95.0-59807616e; empty without a working toolchain.
rust_version() {
  local info release commit
  info=$(runner_rust rustc -vV 2>/dev/null) || return 0
  release=$(printf '%s\n' "$info" | sed -n 's/^release: //p')
  commit=$(printf '%s\n' "$info" | sed -n 's/^commit-hash: //p')
  if [ -n "$release" ]; then echo "$release-${commit:0:9}"; fi
}

# Why there is no build: cargo (or a working rustc) is missing. Says so, not "no binary".
no_toolchain() {
  local why
  if ! command -v cargo >/dev/null 2>&1; then why="cargo is not installed on this runner"
  else why="rustc does not run here (from $temp): $(runner_rust rustc -vV 2>&1 | head -n 1)"; fi
  echo "::error title=scantoken::cannot build scantoken from source ($1): $why. Install Rust before this step (e.g. rustup, or a setup action), or use a runner a release binary is pinned for"
  exit 1
}

if [ "$mode" = plan ]; then
  rust=$(rust_version)
  if [ -n "$pinned" ]; then
    echo "scantoken: v$version for $os-$arch comes from the release, SHA-256 pinned"
    echo "source=release" >> "$GITHUB_OUTPUT"
  elif [ -z "$rust" ]; then
    no_toolchain "no release binary is pinned for this runner ($RUNNER_OS/$RUNNER_ARCH)"
  else
    echo "source=build" >> "$GITHUB_OUTPUT"
  fi
  # Without a toolchain there is nothing to key a build on: a pinned release needs none.
  [ -n "$rust" ] || exit 0
  image=${ImageOS:-self-hosted}
  key="scantoken-v$version-${RUNNER_OS:-unknown}-${RUNNER_ARCH:-unknown}-$image-rustc-$rust-$(source_hash)"
  # A cache key may not hold a comma and is at most 512 characters; keep it to plain characters.
  key=$(printf '%s' "$key" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-512)
  if [ -z "$pinned" ]; then
    echo "scantoken: no pinned release binary for this runner; cache key $key"
  fi
  {
    echo "cache-key=$key"
    echo "cache-path=$temp/scantoken-build"
  } >> "$GITHUB_OUTPUT"
  exit 0
fi

# build_from_source WHY [WARNING]: the cached binary when it answers as this version; else a
# build with cargo (the warning, if any, printed only then), cached by the next step.
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
  [ -z "${2:-}" ] || echo "::warning title=scantoken::$2"
  if ! command -v cargo >/dev/null 2>&1 || [ -z "$(rust_version)" ]; then no_toolchain "$1"; fi
  # Cold builds take minutes: say so before cargo's silence.
  echo "scantoken: $1; building v$version from source with cargo (a few minutes, once per cache key)"
  # The action's own lockfile and sources, the runner's toolchain (from RUNNER_TEMP).
  if ! runner_rust cargo install --locked --quiet --path "$action" --bin scantoken --root "$root"; then
    echo "::error title=scantoken::building scantoken v$version from source failed (cargo install, see above); check the runner's Rust toolchain (rust-version in the action's Cargo.toml), or pin a release"
    exit 1
  fi
  echo "path=$bin" >> "$GITHUB_OUTPUT"
  echo "built=true" >> "$GITHUB_OUTPUT"
}

mkdir -p "$dest"
if [ -z "$pinned" ]; then
  if [ -n "$os" ] && [ -n "$arch" ]; then
    # A supported platform should have a pinned binary once a release exists: say so loudly,
    # when it costs a build (a binary restored from the cache is said so instead).
    build_from_source "no pinned release binary for $asset" \
      "no SHA-256 pinned for $asset in action/checksums.txt; building from source with cargo instead (slower; needs a Rust toolchain; cached for later runs)"
  else
    build_from_source "no release binary for this runner (RUNNER_OS=${RUNNER_OS:-}, RUNNER_ARCH=${RUNNER_ARCH:-})"
  fi
  exit 0
fi

base=${SCANTOKEN_DOWNLOAD_BASE:?SCANTOKEN_DOWNLOAD_BASE is not set}
if ! curl --fail --silent --show-error --location --retry 3 --retry-delay 2 --connect-timeout 10 \
  --output "$dest/$asset" "$base/v$version/$asset"; then
  echo "::warning title=scantoken::the release asset $asset could not be downloaded from $base; using a build from source instead (restored from the Actions cache when one was built earlier, else built now and cached)"
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
