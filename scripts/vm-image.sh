#!/usr/bin/env bash
# Builds what `x0 lab vm` boots: Debian's kernel (from the linux-image-amd64 package, which has batman-adv) and an
# initramfs of busybox-static plus the modules the lab needs, in .x0/vm/. Nothing binary is committed; apt is the only source.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.x0/vm
say() { printf 'vm-image: %s\n' "$*"; }
# Load order: each module after its dependencies (9p over virtio-pci for the host's root; batman-adv and veth for the lab).
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci 9pnet 9pnet_virtio netfs fscache 9p
  rfkill cfg80211 llc stp bridge crc16 crc32c_generic libcrc32c batman-adv veth dummy)

for tool in qemu-system-x86_64 busybox apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { say "missing $tool (scripts/bootstrap.sh installs qemu-system-x86 and busybox-static)"; exit 1; }
done
# The initramfs has no libc: busybox must be the static build.
[[ "$(ldd "$(command -v busybox)" 2>&1 || true)" == *"not a dynamic executable"* ]] || { say "busybox is not static (install busybox-static)"; exit 1; }

package="$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)"
if [[ -z "$package" ]]; then
  [[ "$(id -u)" -eq 0 ]] || { say "apt knows no linux-image-amd64; run: sudo apt-get update"; exit 1; }
  apt-get update -qq
  package="$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)"
fi
release="${package#linux-image-}"
if [[ -f "$OUT/$release/initrd.gz" && -f "$OUT/$release/vmlinuz" && "$OUT/$release/initrd.gz" -nt vm/init && "$OUT/$release/initrd.gz" -nt "$0" ]]; then
  ln -sfn "$release" "$OUT/current"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt's download sandbox user must be able to write there
say "downloading $package"
if ! (cd "$work" && apt-get download "$package" >/dev/null 2>&1); then
  [[ "$(id -u)" -eq 0 ]] && apt-get update -qq
  (cd "$work" && apt-get download "$package" >/dev/null)
fi
dpkg-deb -x "$work"/linux-image-*.deb "$work/pkg"
modules_dir="$work/pkg/lib/modules/$release"
initrd="$work/initrd"
mkdir -p "$initrd"/{bin,dev,proc,sys,newroot,modules}
cp "$(command -v busybox)" "$initrd/bin/busybox"
install -m 755 vm/init "$initrd/init"
for module in "${MODULES[@]}"; do
  found="$(find "$modules_dir" -name "$module.ko" -o -name "$module.ko.xz" -o -name "$module.ko.zst" | head -n1)"
  [[ -n "$found" ]] || { say "the $package package has no module $module"; exit 1; }
  case "$found" in
    *.xz) xz -dc "$found" >"$initrd/modules/$module.ko" ;;
    *.zst) zstd -qdc "$found" >"$initrd/modules/$module.ko" ;;
    *) cp "$found" "$initrd/modules/$module.ko" ;;
  esac
  echo "$module" >>"$initrd/modules/order"
done
mkdir -p "$OUT/$release"
(cd "$initrd" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$OUT/$release/initrd.gz.tmp"
cp "$work/pkg/boot/vmlinuz-$release" "$OUT/$release/vmlinuz"
mv "$OUT/$release/initrd.gz.tmp" "$OUT/$release/initrd.gz"
ln -sfn "$release" "$OUT/current"
say "built $OUT/$release (kernel $release, ${#MODULES[@]} modules)"
