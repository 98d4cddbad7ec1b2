import { describe, expect, test } from "bun:test";
import { InvalidSubjectToken } from "../errors.ts";
import { contracts, EVENTS_SUBJECTS, subjectOf, tokenOf } from "./subjects.ts";

describe("subjects", () => {
  test("subjects - every contract's template ends in its variable token", () => {
    for (const contract of Object.values(contracts)) {
      expect(contract.template).toBe(`x0.${contract.name}.{${contract.token}}`);
    }
  });

  test("subjects - concrete subjects and wildcards", () => {
    expect(subjectOf(contracts.telemetry, "node-7")).toBe("x0.telemetry.node-7");
    expect(subjectOf(contracts.dlq, "analyzer")).toBe("x0.dlq.analyzer");
    expect(subjectOf(contracts.plan, "*")).toBe("x0.plan.*");
  });

  test("subjects - tokens with dots, wildcards or spaces are refused", () => {
    for (const bad of ["a.b", ">", "a b", "", "x".repeat(65)]) {
      expect(() => subjectOf(contracts.telemetry, bad)).toThrow(InvalidSubjectToken);
    }
  });

  test("subjects - the token is read back from a subject", () => {
    expect(tokenOf(contracts.anomaly, "x0.anomaly.n1")).toBe("n1");
    expect(tokenOf(contracts.anomaly, "x0.plan.n1")).toBeUndefined();
    expect(tokenOf(contracts.anomaly, "x0.anomaly.n1.extra")).toBeUndefined();
  });

  test("subjects - X0_EVENTS captures anomalies, plans and results", () => {
    expect(EVENTS_SUBJECTS).toEqual(["x0.anomaly.>", "x0.plan.>", "x0.action.>"]);
  });
});
