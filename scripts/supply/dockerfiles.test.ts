import { describe, expect, test } from "bun:test";
import { checkDockerfiles, isDockerfile, unpinnedBases } from "./dockerfiles.ts";
import { REPO_ROOT, tempTree } from "./testing.ts";

describe("dockerfiles", () => {
  test("dockerfiles - the repository's Dockerfiles pass dockerfile-utils", async () => {
    const r = await checkDockerfiles({ root: REPO_ROOT });
    expect(r.failures).toEqual([]);
    expect(r.summary).toContain("services/crypto/Dockerfile");
  });

  test("dockerfiles - an unknown flag, a malformed instruction and a deprecated one fail, by file and line", async () => {
    const tree = tempTree("dockerfiles");
    try {
      tree.write("services/x/Dockerfile", "FROM debian:bookworm-slim\nMAINTAINER someone\nCOPY --chmown=1000 a b\nHEALTHCHECK NONE now\nEXPOSE 8080\n");
      const r = await checkDockerfiles({ root: tree.dir });
      expect(r.failures).toEqual([
        "services/x/Dockerfile:2:1: warning: MAINTAINER has been deprecated [dockerfile-utils 45]",
        "services/x/Dockerfile:3:6: error: Unknown flag: chmown [dockerfile-utils 40]",
        "services/x/Dockerfile:4:18: error: HEALTHCHECK NONE takes no arguments [dockerfile-utils 9]",
      ]);
    } finally {
      tree.cleanup();
    }
  });

  test("dockerfiles - base images without a digest are listed, build stages and ARG-named digests are not", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const text = `ARG BUN=oven/bun:1.4.5@${digest}
FROM debian:bookworm-slim AS build
FROM --platform=$BUILDPLATFORM golang:1.23 AS cross
FROM \${BUN} AS deps
FROM build
FROM oven/bun:1.4.5-slim
FROM scratch
`;
    expect(unpinnedBases(text)).toEqual(["debian:bookworm-slim", "golang:1.23", "oven/bun:1.4.5-slim"]);
    expect(["Dockerfile", "services/crypto/Dockerfile", "img.Dockerfile", "Dockerfile.dev", "Dockerfiles.md"].filter(isDockerfile)).toEqual([
      "Dockerfile",
      "services/crypto/Dockerfile",
      "img.Dockerfile",
      "Dockerfile.dev",
    ]);
  });
});
