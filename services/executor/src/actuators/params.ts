// Parameter schemas shared by the actuators: everything that reaches a command line or a map key is validated here first.
import { MacAddress, NodeId } from "@x0/shared";
import { z } from "zod";
import { InvalidStepParams } from "../errors.ts";

/** A dotted-quad IPv4 address. */
export const Ipv4 = z.ipv4();

/** A Linux interface name: 1-15 characters, no '/', whitespace, ':' or leading '-' (what `ip` and batctl take as one argument). */
export const InterfaceName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,14}$/, "interface name must be 1-15 of [A-Za-z0-9_.@-], not starting with '-' or '.'");

/** A node id (the last token of its subjects). */
export const Node = NodeId;

/** A MAC address, accepted in either case and normalised to lower case. */
export const Mac = z
  .string()
  .transform((mac) => mac.toLowerCase())
  .pipe(MacAddress);

/** Fills a `{node}` template (netns names, pin roots). */
export function fillTemplate(template: string, node: string): string {
  return template.replaceAll("{node}", node);
}

// What `ip netns` accepts as one name.
const NetnsName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/, "netns name must be 1-64 of [A-Za-z0-9_.-]");

/** The namespace of `node` from an X0_EXECUTOR_NETNS template (null: none, the host); throws InvalidStepParams for a name `ip netns` would not take. */
export function netnsOfTemplate(template: string, node: string): string | null {
  if (template === "") return null;
  const name = fillTemplate(template, node);
  const checked = NetnsName.safeParse(name);
  if (!checked.success) throw new InvalidStepParams(`namespace ${JSON.stringify(name)} from X0_EXECUTOR_NETNS is not a valid name`);
  return checked.data;
}

/** Whether a template depends on the node (then the executor can reach other nodes' state through it). */
export function isPerNode(template: string): boolean {
  return template.includes("{node}");
}
