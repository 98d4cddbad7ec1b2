#!/bin/sh
# Run as root before the node agent starts (ExecStartPre=+ of x0-monitor.service and x0-executor.service): lets the
# unprivileged x0 user reach what CAP_BPF does not open. Capabilities allow the bpf() and perf_event_open() calls; the
# files of bpffs and tracefs still check ownership and modes, and both are root's 0700 on a systemd host.
#   - bpffs: the pin root (X0_MONITOR_BPF_PIN_ROOT / X0_EXECUTOR_BPF_PIN_ROOT, default /sys/fs/bpf/x0) is made the x0
#     user's, and /sys/fs/bpf searchable (x, not r) by others: other programs' pins keep their own modes.
#   - tracefs (monitor only): the group gets search on the path to the two tracepoints the monitor attaches and read on
#     their id and format files (libbpf reads the id; the monitor reads kfree_skb's drop-reason names), nothing else.
# Usage: x0-node-setup.sh monitor|executor [user]. Idempotent; a missing tracefs only leaves the tracepoints off.
set -eu
role="${1:?usage: x0-node-setup.sh monitor|executor [user]}"
user="${2:-x0}"
group="$(id -gn "$user")"

case "$role" in
  monitor) pin_root="${X0_MONITOR_BPF_PIN_ROOT:-/sys/fs/bpf/x0}" ;;
  executor) pin_root="${X0_EXECUTOR_BPF_PIN_ROOT:-/sys/fs/bpf/x0}" ;;
  *) echo "x0-node-setup: unknown role $role (monitor or executor)" >&2; exit 2 ;;
esac
# A per-node template (the lab's /sys/fs/bpf/x0lab/{node}) is one folder per node: its parent is the x0 user's.
pin_root="${pin_root%%/\{node\}*}"

bpffs="${BPFFS:-/sys/fs/bpf}"
if ! grep -qs " $bpffs bpf " /proc/mounts; then
  echo "x0-node-setup: no bpffs at $bpffs (sys-fs-bpf.mount)" >&2
  exit 1
fi
case "$pin_root" in
  "$bpffs"/*) ;;
  *) echo "x0-node-setup: the pin root $pin_root is not under $bpffs" >&2; exit 1 ;;
esac
chmod a+x "$bpffs"
install -d -o "$user" -g "$group" -m 0750 "$pin_root"

if [ "$role" = monitor ]; then
  tracing="${TRACEFS:-/sys/kernel/tracing}"
  if grep -qs " $tracing tracefs " /proc/mounts; then
    for dir in "$tracing" "$tracing/events" "$tracing/events/tcp" "$tracing/events/tcp/tcp_retransmit_skb" \
      "$tracing/events/skb" "$tracing/events/skb/kfree_skb"; do
      [ -d "$dir" ] || continue
      chgrp "$group" "$dir" && chmod g+x "$dir"
    done
    for file in "$tracing/events/tcp/tcp_retransmit_skb/id" "$tracing/events/skb/kfree_skb/id" "$tracing/events/skb/kfree_skb/format"; do
      [ -f "$file" ] || continue
      chgrp "$group" "$file" && chmod g+r "$file"
    done
  else
    echo "x0-node-setup: no tracefs at $tracing: the monitor runs without its tracepoints" >&2
  fi
fi
