// Which of the sampled interfaces get the XDP program, from X0_MONITOR_XDP_INTERFACES.
/**
 * Which watched interfaces get XDP. `configured` is X0_MONITOR_XDP_INTERFACES (a comma list or `*`),
 * `watched` is X0_MONITOR_INTERFACES. Unset: the watched list when one was given, otherwise none,
 * so a monitor watching "everything but lo" never attaches to a host's uplink by default.
 */
export function xdpSelection(configured: string | undefined, watched: readonly string[]): (sampled: string[]) => string[] {
  const trimmed = configured?.trim();
  if (trimmed === "*") return (sampled) => sampled;
  const listed =
    trimmed === undefined || trimmed === ""
      ? watched
      : trimmed
          .split(",")
          .map((name) => name.trim())
          .filter(Boolean);
  const wanted = new Set(listed);
  return (sampled) => sampled.filter((name) => wanted.has(name));
}
