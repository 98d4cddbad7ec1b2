// What the planner believes it changed in batman-adv meshes (hard interfaces detached, hop penalties raised), the changes
// a plan makes to that belief, and how a result confirms or reverts them: the batman twin of routes.ts.
import { EpochMillis, NodeId } from "@x0/shared";
import { z } from "zod";

/**
 * One hard interface the planner changed. An interface the planner never touched (attached, hop penalty as configured)
 * has no entry: only changed ones are kept, so the record stays as small as the faults.
 */
export const BatmanSetting = z.object({
  node: NodeId,
  mesh_interface: z.string().min(1).max(15),
  interface: z.string().min(1).max(15),
  link: z.string().min(1).max(160).describe("The link the interface is on (`link:<a>|<b>`)."),
  active: z.boolean().describe("false: detached from the mesh by the planner."),
  hop_penalty: z.number().int().min(0).max(255).nullable().describe("The hop penalty the planner set; null: left as configured."),
});
/** A changed hard interface. */
export type BatmanSetting = z.infer<typeof BatmanSetting>;

/** `batman.current` in x0_topology: every hard interface the planner believes changed. */
export const BatmanCurrent = z.object({
  v: z.literal(1),
  settings: z.array(BatmanSetting).max(100_000),
  updated_at: EpochMillis,
  plan_id: z.uuid().nullable().describe("The plan that last changed them."),
  returned: z
    // A key is a node id (up to 64) and an interface name (up to 15) joined by "/".
    .array(z.object({ key: z.string().min(3).max(80), at: EpochMillis }))
    .max(100_000)
    .default([])
    .describe(
      "Hard interfaces (`<node>/<interface>`) that returned to their mesh recently, and when: a restarted planner does not detach them again too soon.",
    ),
});
/** The batman.current record. */
export type BatmanCurrent = z.infer<typeof BatmanCurrent>;

/** The x0_topology key of the batman settings the planner believes applied. */
export const BATMAN_KEY = "batman.current";

/** The key of a hard interface in setting maps: `<node>/<interface>`. */
export function settingKey(node: string, iface: string): string {
  return `${node}/${iface}`;
}

/** Settings by {@link settingKey}. */
export type SettingMap = Map<string, BatmanSetting>;

/** A map of settings by key. */
export function toSettingMap(settings: Iterable<BatmanSetting>): SettingMap {
  const map: SettingMap = new Map();
  for (const setting of settings) map.set(settingKey(setting.node, setting.interface), setting);
  return map;
}

/** An interface as the planner found it: attached, its hop penalty untouched. */
export function untouched(end: Pick<BatmanSetting, "node" | "mesh_interface" | "interface" | "link">): BatmanSetting {
  return { node: end.node, mesh_interface: end.mesh_interface, interface: end.interface, link: end.link, active: true, hop_penalty: null };
}

/** Whether a setting is the untouched state (and so is not kept). */
export function isUntouched(setting: BatmanSetting): boolean {
  return setting.active && setting.hop_penalty === null;
}

/** One hard interface to change: `previous` is undefined when the planner had not touched it. */
export interface BatmanChange {
  next: BatmanSetting;
  previous: BatmanSetting | undefined;
}

function sameSetting(x: BatmanSetting, y: BatmanSetting): boolean {
  return x.active === y.active && x.hop_penalty === y.hop_penalty && x.mesh_interface === y.mesh_interface;
}

function put(map: SettingMap, setting: BatmanSetting): void {
  const key = settingKey(setting.node, setting.interface);
  if (isUntouched(setting)) map.delete(key);
  else map.set(key, setting);
}

/** Applies changes to a setting map (in place). */
export function applySettings(map: SettingMap, changes: BatmanChange[]): void {
  for (const { next } of changes) put(map, next);
}

/** Undoes changes whose setting is still the one they made (a later plan's change to the same interface wins). */
export function revertSettings(map: SettingMap, changes: BatmanChange[]): void {
  for (const { next, previous } of changes) {
    const current = map.get(settingKey(next.node, next.interface)) ?? untouched(next);
    if (!sameSetting(current, next)) continue;
    put(map, previous ?? untouched(next));
  }
}
