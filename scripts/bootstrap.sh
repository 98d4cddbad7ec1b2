#!/usr/bin/env bash
# Installs what x0tta6bl4 needs on a Debian/Ubuntu machine, then the workspace's packages.
# As root it installs missing pieces itself (apt, npm); otherwise it says what to run.
set -euo pipefail

BUN_VERSION="$(sed -n 's/.*"packageManager": *"bun@\([0-9.]*\)".*/\1/p' "$(dirname "$0")/../package.json")"
APT_PACKAGES=(nats-server clang llvm libbpf-dev bpftool iproute2 openssl)
# The command each package provides, to tell whether it is there.
declare -A PROVIDES=([nats-server]=nats-server [clang]=clang [llvm]=llvm-strip [libbpf-dev]=/usr/include/bpf/libbpf.h [bpftool]=bpftool [iproute2]=ip [openssl]=openssl)

say() { printf 'bootstrap: %s\n' "$*"; }
have() { if [[ "$1" == /* ]]; then [[ -e "$1" ]]; else command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; fi; }
is_root() { [[ "$(id -u)" -eq 0 ]]; }

missing=()
for package in "${APT_PACKAGES[@]}"; do
  have "${PROVIDES[$package]}" || missing+=("$package")
done
bun_ok=false
if have bun && [[ "$(bun --version 2>/dev/null)" == "$BUN_VERSION" ]]; then bun_ok=true; fi
if ! $bun_ok && ! have npm; then missing+=(npm); fi

if ((${#missing[@]} > 0)); then
  if is_root && have apt-get; then
    say "installing with apt-get: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Ubuntu ships bpftool in linux-tools rather than a bpftool package.
    if [[ " ${missing[*]} " == *" bpftool "* ]] && ! apt-cache show bpftool >/dev/null 2>&1; then
      missing=("${missing[@]/bpftool/linux-tools-generic}")
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing: ${missing[*]}"
    say "install them with: sudo apt-get install ${missing[*]}   (then run make again)"
    exit 1
  fi
fi

if ! $bun_ok; then
  if is_root || [[ -w "$(npm prefix -g)" ]]; then
    say "installing bun@$BUN_VERSION through npm"
    npm install -g --no-audit --no-fund "bun@$BUN_VERSION" >/dev/null
  else
    say "bun $BUN_VERSION is missing; install it with: npm install -g bun@$BUN_VERSION"
    exit 1
  fi
  hash -r
  if [[ "$(bun --version 2>/dev/null)" != "$BUN_VERSION" ]]; then
    say "bun $BUN_VERSION did not install (found: $(bun --version 2>/dev/null || echo none) at $(command -v bun || echo nowhere))"
    exit 1
  fi
fi

cd "$(dirname "$0")/.."
bun install --frozen-lockfile >/dev/null
say "ready: bun $(bun --version), $(nats-server --version), $(clang --version | head -n1)"
