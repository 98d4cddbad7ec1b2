// The monitor's public surface as the lab uses it: pinned XDP fault maps and the hello wire format.
export { type DataplaneControl, decodeHello, encodeHello, HelloType, type NeighbourKey, openDataplaneControl } from "@x0/monitor";
