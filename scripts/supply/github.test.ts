import { describe, expect, test } from "bun:test";
import { checkGithub } from "./github.ts";
import { REPO_ROOT, tempTree } from "./testing.ts";

const VALID = `name: ok
on:
  push:
    branches: [main]
permissions:
  contents: read
  id-token: write
  attestations: write
jobs:
  build:
    runs-on: ubuntu-24.04-arm
    steps:
      - uses: actions/checkout@v4
      - run: echo "\${{ github.sha }}"
`;

async function checkWith(files: Record<string, string>) {
  const tree = tempTree("github");
  try {
    for (const [path, text] of Object.entries(files)) tree.write(path, text);
    return await checkGithub({ root: tree.dir });
  } finally {
    tree.cleanup();
  }
}

describe("workflows", () => {
  test("workflows - the repository's workflows, dependabot.yml and issue forms are valid", async () => {
    const r = await checkGithub({ root: REPO_ROOT });
    expect(r.failures).toEqual([]);
    expect(r.summary).toContain(".github/workflows/ci.yml");
    expect(r.summary).toContain(".github/workflows/security.yml");
  });

  test("workflows - runner labels and permission scopes newer than the validators' data pass", async () => {
    expect((await checkWith({ ".github/workflows/ok.yml": VALID })).failures).toEqual([]);
  });

  test("workflows - a broken workflow fails with what each validator found, by file and line", async () => {
    const broken = VALID.replace("branches: [main]", "branchs: [main]")
      .replace("runs-on: ubuntu-24.04-arm\n", "runs-on: ubuntu-24.04-arm\n    needs: [lint]\n")
      .replace("github.sha", "github.event.pull_request.title")
      .concat("  test:\n    steps:\n      - run: make test\n");
    const r = await checkWith({ ".github/workflows/broken.yml": broken });
    const text = r.failures.join("\n");
    expect(text).toContain('.github/workflows/broken.yml:4:5: unexpected key "branchs" for "push" section');
    expect(text).toContain('job "build" needs job "lint" which does not exist in this workflow [actionlint job-needs]');
    expect(text).toContain('"github.event.pull_request.title" is potentially untrusted');
    expect(text).toContain('"runs-on" section is missing in job "test"');
    expect(text).toContain(".github/workflows/broken.yml: /jobs/test/runs-on: This property is required [action-validator]");
  });

  test("workflows - a file that is not YAML fails", async () => {
    const r = await checkWith({ ".github/workflows/bad.yml": "name: [unclosed\n" });
    expect(r.failures).toEqual([expect.stringMatching(/^\.github\/workflows\/bad\.yml: not valid YAML/)]);
  });

  test("workflows - dependabot.yml with an unknown key or a directory without its manifest fails", async () => {
    const dependabot = `version: 2
updates:
  - package-ecosystem: bun
    directory: /
    schedule: { interval: weekly }
    grups: {}
  - package-ecosystem: docker
    directories: [/, /services/nowhere]
    schedule: { interval: fortnightly }
`;
    const r = await checkWith({ ".github/dependabot.yml": dependabot, Dockerfile: "FROM scratch\n" });
    expect(r.failures).toEqual([
      ".github/dependabot.yml: /updates/0 must NOT have additional properties (grups)",
      ".github/dependabot.yml: /updates/1/schedule/interval must be equal to one of the allowed values",
      ".github/dependabot.yml: bun directory / has no bun.lock",
      ".github/dependabot.yml: docker directory /services/nowhere does not exist",
    ]);
  });

  test("workflows - an issue form without labels on its fields or with a repeated id fails", async () => {
    const form = `name: Bug
description: A bug
body:
  - type: textarea
    id: what
    attributes: { description: no label }
  - type: input
    id: what
    attributes: { label: Version }
`;
    const r = await checkWith({ ".github/ISSUE_TEMPLATE/bug.yml": form });
    expect(r.failures).toEqual([
      ".github/ISSUE_TEMPLATE/bug.yml: /body/0/attributes must have required property 'label'",
      '.github/ISSUE_TEMPLATE/bug.yml: /body/0 must match "else" schema',
      ".github/ISSUE_TEMPLATE/bug.yml: body ids used twice: what",
    ]);
  });
});
