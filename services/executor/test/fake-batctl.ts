// A fake batctl (2023 syntax) for tests on a kernel without batman-adv: state in the JSON file $FAKE_BATCTL_STATE, the
// commands the batman actuators run answered as batctl 2023.0 on batman-adv does; README.md ("Tests") lists them.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

interface Mesh {
  hop_penalty: number;
  interfaces: string[];
  /** Defaults of batman-adv when absent: 1000 ms, off, class 20, 10000/2000 kbit/s (in units of 100 kbit/s), BATMAN_IV. */
  orig_interval?: number;
  /** Absent: enabled (batman-adv's default). */
  aggregated_ogms?: boolean;
  gw_mode?: "off" | "client" | "server";
  gw_sel_class?: number;
  gw_bandwidth_down?: number;
  gw_bandwidth_up?: number;
  algo?: "BATMAN_IV" | "BATMAN_V";
}

interface State {
  meshif: Record<string, Mesh>;
  /** `active: false`: attached but listed as inactive (its link is down). */
  hardif: Record<string, { hop_penalty: number; active?: boolean }>;
}

const path = process.env.FAKE_BATCTL_STATE ?? "";
const state: State = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : { meshif: {}, hardif: {} };
const save = () => writeFileSync(path, JSON.stringify(state));
const fail = (message: string, code = 1): never => {
  process.stderr.write(`${message}\n`);
  process.exit(code);
};

/** batctl's parse_throughput: `<n>[kbit|mbit]`, plain numbers kbit/s, in units of 100 kbit/s. */
const throughput = (text: string): number => {
  const match = /^(\d+)(kbit|mbit)?$/i.exec(text) ?? fail(`Invalid throughput speed: ${text}`);
  return match[2]?.toLowerCase() === "mbit" ? Number(match[1]) * 10 : Math.floor(Number(match[1]) / 100);
};
/** batctl's strtoul with a full-string check. */
const unsigned = (text: string): number => (/^\d+$/.test(text) ? Number(text) : fail(`Error - the supplied argument is invalid: ${text}`));
const tenths = (units: number) => `${Math.floor(units / 10)}.${units % 10}`;

function gwMode(mesh: Mesh, args: string[]): void {
  const [mode, argument] = args;
  const algo = mesh.algo ?? "BATMAN_IV";
  if (mode === undefined) {
    const current = mesh.gw_mode ?? "off";
    const sel = mesh.gw_sel_class ?? (algo === "BATMAN_V" ? 50 : 20);
    if (current === "off") process.stdout.write("off\n");
    else if (current === "client")
      process.stdout.write(algo === "BATMAN_V" ? `client (selection class: ${tenths(sel)} MBit)\n` : `client (selection class: ${sel})\n`);
    else process.stdout.write(`server (announced bw: ${tenths(mesh.gw_bandwidth_down ?? 100)}/${tenths(mesh.gw_bandwidth_up ?? 20)} MBit)\n`);
    return;
  }
  if (mode !== "off" && mode !== "client" && mode !== "server") fail(`Error - the supplied argument is invalid: ${mode}`);
  if (args.length > 2) fail("Error - incorrect number of arguments (expected 1/2)");
  if (argument !== undefined) {
    if (mode === "off") fail(`Error - unexpected argument for mode "off": ${argument}`);
    if (mode === "client") {
      const sel = algo === "BATMAN_V" ? throughput(argument) : unsigned(argument);
      // batman-adv ignores a class outside 1..sel_class_max (255 for BATMAN_IV) without an error.
      if (sel >= 1 && (algo === "BATMAN_V" || sel <= 255)) mesh.gw_sel_class = sel;
    } else {
      const [down = "", up] = argument.split("/");
      mesh.gw_bandwidth_down = throughput(down);
      // Over netlink an absent upload leaves batman-adv's value as it was.
      if (up !== undefined) mesh.gw_bandwidth_up = throughput(up);
    }
  }
  mesh.gw_mode = mode as Mesh["gw_mode"];
  save();
}

const [scope, name, command, ...rest] = process.argv.slice(2);
if (process.env.FAKE_BATCTL_FAIL && process.env.FAKE_BATCTL_FAIL === command && rest.length > 0) fail(`Error - ${command}: Operation not permitted`);
if (scope === "meshif" && name) {
  const mesh = state.meshif[name] ?? fail(`Error - interface ${name} is not present or not a batman-adv interface`);
  if (command === "hop_penalty") {
    if (rest[0] === undefined) process.stdout.write(`${mesh.hop_penalty}\n`);
    else {
      mesh.hop_penalty = unsigned(rest[0]);
      save();
    }
  } else if (command === "orig_interval" || command === "it") {
    if (rest[0] === undefined) process.stdout.write(`${mesh.orig_interval ?? 1000}\n`);
    else {
      // batman-adv raises the interval to 2 × its 20 ms jitter.
      mesh.orig_interval = Math.max(40, unsigned(rest[0]));
      save();
    }
  } else if (command === "aggregation" || command === "ag") {
    if (rest[0] === undefined) process.stdout.write(`${mesh.aggregated_ogms === false ? "disabled" : "enabled"}\n`);
    else {
      // batctl's parse_bool: 0 or disable…, 1 or enable…, case-insensitive.
      const word = rest[0].toLowerCase();
      mesh.aggregated_ogms =
        word === "1" || word.startsWith("enable")
          ? true
          : word === "0" || word.startsWith("disable")
            ? false
            : fail(`Error - the supplied argument is invalid: ${rest[0]}`);
      save();
    }
  } else if (command === "gw_mode" || command === "gw") gwMode(mesh, rest);
  else if (command === "originators_json" || command === "oj") {
    const file = process.env.FAKE_BATCTL_ORIGINATORS;
    process.stdout.write(file && existsSync(file) ? readFileSync(file, "utf8") : "[]\n");
  } else if (command === "interface" || command === "if") {
    const [action, iface] = rest;
    if (action === undefined)
      for (const attached of mesh.interfaces) process.stdout.write(`${attached}: ${state.hardif[attached]?.active === false ? "inactive" : "active"}\n`);
    else if (action === "add" && iface) {
      if (!mesh.interfaces.includes(iface)) mesh.interfaces.push(iface);
      state.hardif[iface] ??= { hop_penalty: 0 };
      save();
    } else if (action === "del" && iface) {
      if (!mesh.interfaces.includes(iface)) fail(`Error - interface ${iface} is not attached to ${name}`);
      mesh.interfaces = mesh.interfaces.filter((attached) => attached !== iface);
      save();
    } else fail("Error - unknown interface action");
  } else fail(`Error - unrecognised command or debug table - ${command}`);
} else if (scope === "hardif" && name && command === "hop_penalty") {
  const hard = state.hardif[name] ?? fail(`Error - interface ${name} is not attached to a batman-adv interface`);
  if (rest[0] === undefined) process.stdout.write(`${hard.hop_penalty}\n`);
  else {
    hard.hop_penalty = unsigned(rest[0]);
    save();
  }
} else fail(`Usage: batctl [options] command|debug table [parameters] (got ${process.argv.slice(2).join(" ")})`);
