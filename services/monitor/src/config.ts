// The monitor's configuration variables (besides the common ones), validated at start: a bad value exits 78 naming it.
import { commaListSchema } from "@x0/shared";
import { z } from "zod";
import { DEFAULT_HELLO_PORT } from "./probes/hellos.ts";
import { PEER_PATTERN } from "./probes/prober.ts";
import { DEFAULT_BPF_DIR } from "./sample/ebpf.ts";
import { DEFAULT_PIN_ROOT } from "./xdp/pins.ts";

const ms = (min: number, fallback: number) => z.coerce.number().int().min(min).max(3_600_000).default(fallback);
const peerList = commaListSchema.refine((peers) => peers.every((peer) => PEER_PATTERN.test(peer)), "each peer must be <ipv4>[:<port>]");

/** The monitor's variables. */
export const monitorConfigShape = {
  X0_MONITOR_INTERVAL_MS: ms(10, 100).describe("Sampling (telemetry) interval in milliseconds."),
  X0_MONITOR_INTERFACES: commaListSchema.default([]).describe("Comma-separated interfaces to watch; empty = every interface but lo."),
  X0_MONITOR_XDP_INTERFACES: z
    .string()
    .optional()
    .describe(
      "Interfaces that get the XDP program: a comma list, or `*` for every watched interface. Default: the X0_MONITOR_INTERFACES list when one is given, none otherwise, so the monitor never attaches to a host's uplink unless told to (the mesh interfaces are the operator's choice).",
    ),
  X0_MONITOR_SYSFS_NET: z.string().min(1).default("/sys/class/net").describe("Where interface counters are read from."),
  X0_MONITOR_EBPF: z.enum(["auto", "off"]).default("auto").describe("`auto`: use eBPF when privileges and BTF allow; `off`: sysfs counters only."),
  X0_MONITOR_XDP_MODE: z.enum(["auto", "native", "generic"]).default("auto").describe("XDP attach mode: native (driver) then generic (`auto`), or only one."),
  X0_MONITOR_BPF_DIR: z.string().min(1).default(DEFAULT_BPF_DIR).describe("Folder of the objects `make bpf` builds."),
  X0_MONITOR_BPF_PIN_ROOT: z
    .string()
    .min(1)
    .default(DEFAULT_PIN_ROOT)
    .describe("bpffs folder for pinned maps: `<root>/<iface>/{neighbours,totals,deny,fault,policy}`."),
  X0_MONITOR_MAX_NEIGHBOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(256)
    .describe("Neighbours reported per interface in telemetry (most recently active first)."),
  X0_MONITOR_METRIC_NEIGHBOURS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1024)
    .default(64)
    .describe('Distinct neighbour label values in metrics; later neighbours are counted as "other".'),
  X0_MONITOR_LIVENESS_MS: ms(10, 1000).describe("A neighbour whose last frame is older than this is not alive (unless it answers hellos)."),
  X0_MONITOR_PROBE_PEERS: peerList.default([]).describe("Comma-separated hello peers, `<ipv4>[:<port>]`."),
  X0_MONITOR_PROBE_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .default(DEFAULT_HELLO_PORT)
    .describe("UDP port hellos are sent from and answered on (0: any free port; answering needs a fixed one)."),
  X0_MONITOR_PROBE_INTERVAL_MS: ms(20, 100).describe("Hello interval."),
  X0_MONITOR_PROBE_OVERDUE_MS: z
    .string()
    .optional()
    .describe(
      "A peer silent this long (ms) is reported on x0.overdue at every hello, for up to two telemetry intervals, so the analyzer need not wait for the next sample: unset → 3 hello intervals; `off` → never; else at least 2 hello intervals.",
    ),
  X0_MONITOR_PROBE_TIMEOUT_MS: ms(1, 500).describe("A hello unanswered for this long is lost."),
  X0_MONITOR_PROBE_WINDOW: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(50)
    .describe("Resolved hellos per peer that loss and mean RTT are computed over."),
  X0_MONITOR_BATMAN_INTERFACE: z.string().min(1).max(15).default("auto").describe("batman-adv mesh interface: a name, `auto` (detect) or `off`."),
  X0_MONITOR_BATMAN_INTERVAL_MS: ms(100, 1000).describe("How often batman-adv's tables are read."),
  X0_MONITOR_BATMAN_SOURCE: z
    .enum(["netlink", "batctl"])
    .default("netlink")
    .describe("How batman-adv is read: `netlink` (its generic netlink family, in process) or `batctl` (a spawn per table)."),
  X0_MONITOR_BATCTL: z.string().min(1).default("batctl").describe("The batctl executable."),
  X0_MONITOR_SERVICE_ADDRESS: z
    .union([z.ipv4(), z.literal("")])
    .default("")
    .describe("The node's stable address, which other nodes route to; announced in x0_topology (empty: none)."),
  X0_MONITOR_TRACEPOINTS: z
    .enum(["on", "off"])
    .default("on")
    .describe("Attach the tracepoint programs (TCP retransmits, skb drops): `on` or `off` (labs share one kernel's tracepoints)."),
};
