// Topology: following node announcements, the link graph and shortest-path routes.
export type { AnnouncementSink } from "./follow.ts";
export { followAnnouncements } from "./follow.ts";
export type { CutOff, Fragility, FragilityLink } from "./fragility.ts";
export { analyzeFragility } from "./fragility.ts";
export type { Link, LinkEnd, MeshGraph, Route } from "./graph.ts";
export { linkId, linksFromAnnouncements, pathBetween, routeTables, shortestPaths } from "./graph.ts";
