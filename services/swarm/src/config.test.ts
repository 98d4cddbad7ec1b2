import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError, loadConfig } from "@x0/shared";
import { adapterSpecOf, checkSwarmConfig, privacyOf, SHIPPED_SITE_VALIDATION, swarmConfigShape } from "./config.ts";

const load = (env: Record<string, string>) => loadConfig(swarmConfigShape, { env });

describe("swarm config", () => {
  test("config - DP off by default; on, it needs a rule it can bound, a denominator, and a clip within the refusal bound, each named", () => {
    expect(privacyOf(load({}))).toBeUndefined();
    expect(() => checkSwarmConfig(load({}))).not.toThrow();
    const dp = { X0_SWARM_DP_NOISE: "1.1", X0_SWARM_DP_PARTICIPANTS: "4" };
    expect(() => checkSwarmConfig(load({ ...dp, X0_SWARM_AGGREGATOR: "multi-krum" }))).toThrow(ConfigError);
    expect(() => checkSwarmConfig(load({ ...dp, X0_SWARM_AGGREGATOR: "multi-krum" }))).toThrow(/X0_SWARM_AGGREGATOR: must be fedavg, trimmed-mean or median/);
    expect(() => checkSwarmConfig(load({ ...dp, X0_SWARM_AGGREGATOR: "fedavg", X0_SWARM_DP_PARTICIPANTS: "0" }))).toThrow(/X0_SWARM_DP_PARTICIPANTS/);
    expect(() => checkSwarmConfig(load({ ...dp, X0_SWARM_AGGREGATOR: "fedavg", X0_SWARM_DP_CLIP: "9" }))).toThrow(/X0_SWARM_DP_CLIP: must not exceed/);
    // The robust rules' guarantee is for a fixed set of agents: no sampling, a whole number of slots.
    expect(() => checkSwarmConfig(load({ ...dp, X0_SWARM_DP_SAMPLE_RATE: "0.5" }))).toThrow(/X0_SWARM_DP_SAMPLE_RATE: must be 1 with the private median/);
    expect(() => checkSwarmConfig(load({ ...dp, X0_SWARM_AGGREGATOR: "trimmed-mean", X0_SWARM_DP_PARTICIPANTS: "3.5" }))).toThrow(/whole number/);
    expect(() => checkSwarmConfig(load(dp))).not.toThrow();
    const on = load({ ...dp, X0_SWARM_AGGREGATOR: "fedavg", X0_SWARM_DP_SAMPLE_RATE: "0.5" });
    expect(() => checkSwarmConfig(on)).not.toThrow();
    expect(privacyOf(on)).toEqual({ noiseMultiplier: 1.1, clipNorm: 1, sampleRate: 0.5, expectedParticipants: 4, epsilonBudget: 8, delta: 1e-5 });
  });

  test("config - a site member needs the site's held-out recordings; the adapter's A seed comes from the site name", () => {
    expect(() => checkSwarmConfig(load({ X0_SWARM_SITE: "lossy" }))).toThrow(/X0_SWARM_SITE_VALIDATION: must name the held-out recordings of site lossy/);
    const member = load({ X0_SWARM_SITE: "lossy", X0_SWARM_SITE_VALIDATION: SHIPPED_SITE_VALIDATION });
    expect(() => checkSwarmConfig(member)).not.toThrow();
    expect(adapterSpecOf(member, "lossy")).toEqual({ rank: 4, alpha: 8, seed: adapterSpecOf(member, "lossy").seed });
    expect(adapterSpecOf(member, "lossy").seed).not.toBe(adapterSpecOf(member, "hill").seed);
    expect(adapterSpecOf(load({ X0_SWARM_ADAPTER_SEED: "9", X0_SWARM_ADAPTER_RANK: "2" }), "lossy")).toEqual({ rank: 2, alpha: 8, seed: 9 });
    expect(() => load({ X0_SWARM_SITE: "Lossy Site" })).toThrow(/X0_SWARM_SITE/);
  });

  test("config - the service stops at start naming the variable (exit 78), before it touches NATS", async () => {
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "main.ts")], {
      env: {
        PATH: process.env.PATH ?? "",
        X0_SWARM_DP_NOISE: "1",
        X0_SWARM_DP_PARTICIPANTS: "4",
        X0_SWARM_AGGREGATOR: "multi-krum",
        X0_NATS_SERVERS: "nats://127.0.0.1:1",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(78);
    expect(stderr).toContain("X0_SWARM_AGGREGATOR: must be fedavg, trimmed-mean or median while X0_SWARM_DP_NOISE is set");
  });
});
