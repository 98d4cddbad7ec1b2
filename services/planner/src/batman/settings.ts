// What the planner believes it changed in batman-adv meshes (hard interfaces detached, hop penalties raised), the changes
// a plan makes to that belief, and how a result confirms or reverts them: the batman twin of routes.ts.
import type { BatmanSetting } from "@x0/shared";

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
