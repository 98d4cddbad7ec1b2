// A fake batctl (2023 syntax) for tests on a kernel without batman-adv: keeps its state in the JSON file named by
// FAKE_BATCTL_STATE and answers `meshif <bat> hop_penalty [n]`, `hardif <if> hop_penalty [n]` and
// `meshif <bat> interface [add|del <if>]` like batctl does. FAKE_BATCTL_FAIL=<subcommand> makes that subcommand fail.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

interface State {
  meshif: Record<string, { hop_penalty: number; interfaces: string[] }>;
  hardif: Record<string, { hop_penalty: number }>;
}

const path = process.env.FAKE_BATCTL_STATE ?? "";
const state: State = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : { meshif: {}, hardif: {} };
const save = () => writeFileSync(path, JSON.stringify(state));
const fail = (message: string, code = 1): never => {
  process.stderr.write(`${message}\n`);
  process.exit(code);
};

const [scope, name, command, ...rest] = process.argv.slice(2);
if (process.env.FAKE_BATCTL_FAIL && process.env.FAKE_BATCTL_FAIL === command && rest.length > 0) fail(`Error - ${command}: Operation not permitted`);
if (scope === "meshif" && name) {
  const mesh = state.meshif[name] ?? fail(`Error - interface ${name} is not present or not a batman-adv interface`);
  if (command === "hop_penalty") {
    if (rest[0] === undefined) process.stdout.write(`${mesh.hop_penalty}\n`);
    else {
      mesh.hop_penalty = Number(rest[0]);
      save();
    }
  } else if (command === "interface" || command === "if") {
    const [action, iface] = rest;
    if (action === undefined) for (const attached of mesh.interfaces) process.stdout.write(`${attached}: active\n`);
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
    hard.hop_penalty = Number(rest[0]);
    save();
  }
} else fail(`Usage: batctl [options] command|debug table [parameters] (got ${process.argv.slice(2).join(" ")})`);
