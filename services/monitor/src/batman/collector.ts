// Reads batman-adv state through batman-adv's generic netlink family in process, or through batctl (argv only, no shell).
import {
  type BatmanMesh as BatmanNetlink,
  type BatmanSample,
  parseBatctlInterfaces,
  parseBatctlMesh,
  parseBatctlNeighbours,
  parseBatctlOriginators,
  X0Error,
} from "@x0/shared";

/** batctl failed or timed out. */
export class BatctlError extends X0Error {}

/** Runs `argv` and returns stdout; throws {@link BatctlError} on a non-zero exit or after `timeoutMs`. */
async function output(argv: string[], timeoutMs: number): Promise<string> {
  let child: ReturnType<typeof Bun.spawn>;
  try {
    child = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore", timeout: timeoutMs });
  } catch (error) {
    throw new BatctlError(`cannot run ${argv[0]}`, { cause: error });
  }
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout as ReadableStream).text(),
    new Response(child.stderr as ReadableStream).text(),
    child.exited,
  ]);
  if (code !== 0) throw new BatctlError(`${argv.join(" ")} exited ${code}${child.signalCode ? ` (${child.signalCode})` : ""}: ${stderr.trim().slice(0, 200)}`);
  return stdout;
}

/** Names of batman-adv soft interfaces, from `ip -j -d link show` (linkinfo kind batadv). */
export async function findBatmanInterfaces(timeoutMs = 2000): Promise<string[]> {
  const links = JSON.parse(await output(["ip", "-j", "-d", "link", "show"], timeoutMs)) as { ifname: string; linkinfo?: { info_kind?: string } }[];
  return links.filter((link) => link.linkinfo?.info_kind === "batadv").map((link) => link.ifname);
}

/** Options of {@link collectBatman}. */
export interface BatmanOptions {
  meshInterface: string;
  /** The batctl executable (looked up on PATH). */
  batctl?: string;
  timeoutMs?: number;
}

/** Reads originators (with TQ and next hop) and neighbours of one mesh interface. */
export async function collectBatman({ meshInterface, batctl = "batctl", timeoutMs = 2000 }: BatmanOptions): Promise<BatmanSample> {
  const [originators, neighbours] = await Promise.all([
    output([batctl, "meshif", meshInterface, "oj"], timeoutMs).then(parseBatctlOriginators),
    output([batctl, "meshif", meshInterface, "nj"], timeoutMs).then(parseBatctlNeighbours),
  ]);
  return { mesh_interface: meshInterface, originators, neighbours };
}

/** What a node announces about its batman-adv mesh (the address on the mesh interface is added by the announcement). */
export interface BatmanMesh {
  mesh_interface: string;
  originator: string;
  hard_interfaces: string[];
}

/** Reads the mesh's originator address (`mj`) and its hard interfaces (`interface`). */
export async function collectBatmanMesh({ meshInterface, batctl = "batctl", timeoutMs = 2000 }: BatmanOptions): Promise<BatmanMesh> {
  const [mesh, interfaces] = await Promise.all([
    output([batctl, "meshif", meshInterface, "mj"], timeoutMs).then(parseBatctlMesh),
    output([batctl, "meshif", meshInterface, "interface"], timeoutMs).then(parseBatctlInterfaces),
  ]);
  return { mesh_interface: meshInterface, originator: mesh.originator, hard_interfaces: [...interfaces.keys()].sort() };
}

/** Reads originators and neighbours of one mesh interface of this namespace over netlink (`oj` and `nj` without a spawn). */
export function collectBatmanNetlink(netlink: BatmanNetlink, meshInterface: string): BatmanSample {
  return { mesh_interface: meshInterface, originators: netlink.originators(null, meshInterface), neighbours: netlink.neighbours(null, meshInterface) };
}

/** Reads the mesh's originator address and hard interfaces over netlink (`mj` and `interface` without a spawn). */
export function collectBatmanMeshNetlink(netlink: BatmanNetlink, meshInterface: string): BatmanMesh {
  const facts = netlink.facts(null, meshInterface);
  return { mesh_interface: meshInterface, originator: facts.originator, hard_interfaces: [...facts.hardInterfaces.keys()].sort() };
}
