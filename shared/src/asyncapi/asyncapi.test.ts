import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import { cryptoEndpoints } from "../contracts/crypto.ts";
import { ragEndpoints } from "../contracts/rag.ts";
import { records } from "../contracts/records.ts";
import { renderAsyncApi } from "./asyncapi.ts";

const committed = join(import.meta.dir, "..", "..", "..", "docs", "asyncapi.yaml");

describe("asyncapi", () => {
  test("asyncapi - the generated document is valid AsyncAPI 3 with no errors", async () => {
    const { document, diagnostics } = await new Parser().parse(renderAsyncApi());
    const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
    expect(errors.map((error) => `${error.path.join(".")}: ${error.message}`)).toEqual([]);
    expect(document?.version()).toBe("3.0.0");
    const addresses =
      document
        ?.channels()
        .all()
        .map((channel) => channel.address()) ?? [];
    // Every subject family, request/reply endpoint and KV record with a schema (the reply inboxes have no address).
    expect(addresses.filter((address) => address !== null && address !== undefined).sort()).toEqual(
      [
        "x0.action.{node}",
        "x0.anomaly.{node}",
        ...Object.keys(cryptoEndpoints).map((name) => `x0.crypto.${name}`),
        "x0.dlq.{service}",
        "x0.gov.proposal.{proposal}",
        "x0.gov.propose",
        "x0.gov.vote",
        "x0.overdue.{node}",
        "x0.plan.{node}",
        "x0.probe.{node}",
        ...Object.keys(ragEndpoints).map((name) => `x0.rag.${name}`),
        "x0.swarm.adapter.round.{site}",
        "x0.swarm.adapter.update.{node}",
        "x0.swarm.round.{model}",
        "x0.swarm.update.{node}",
        "x0.telemetry.{node}",
        ...Object.values(records)
          .filter((record) => "schema" in record)
          .map((record) => `$KV.${record.bucket}.${record.key}`),
      ].sort(),
    );
  });

  test("asyncapi - docs/asyncapi.yaml is up to date (run `bun run docs:asyncapi`)", async () => {
    expect(await Bun.file(committed).text()).toBe(renderAsyncApi());
  });
});
