import { describe, expect, test } from "bun:test";
import { checkSecrets } from "./secrets.ts";
import { REPO_ROOT, tempTree } from "./testing.ts";

// The fake secrets are made at run time, so this file holds none for the scan of the repository to find.
async function privateKeyPem(): Promise<string> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", pair.privateKey)).toString("base64");
  const armour = (word: string) => `-----${word} ${"PRIVATE"} KEY-----`;
  return `${armour("BEGIN")}\n${der.match(/.{1,64}/g)?.join("\n")}\n${armour("END")}\n`;
}
function githubToken(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(36));
  return `gh${"p"}_${[...bytes].map((b) => alphabet[b % alphabet.length]).join("")}`;
}

/** A small tree with the repository's secretlint configuration, as a git work tree or not. */
async function configuredTree(git: boolean) {
  const tree = tempTree("secrets");
  tree.copy(".secretlintrc.json");
  tree.copy(".secretlintignore");
  tree.write("README.md", "# a project\n");
  tree.write("src/config.ts", 'export const url = "https://example.org";\n');
  if (git) expect(Bun.spawnSync(["git", "init", "-q"], { cwd: tree.dir }).exitCode).toBe(0);
  return tree;
}

describe("secrets", () => {
  test("secrets - the repository's tree has no secret outside the listed fixtures", async () => {
    const r = await checkSecrets({ root: REPO_ROOT });
    expect(r.failures).toEqual([]);
  });

  test("secrets - a private key and a GitHub token planted in a copy fail, each named with its file, line and rule", async () => {
    const tree = await configuredTree(true);
    try {
      expect((await checkSecrets({ root: tree.dir })).failures).toEqual([]);
      tree.write("deploy/node.key", await privateKeyPem());
      tree.write("src/settings.ts", `export const token = "${githubToken()}";\n`);
      const r = await checkSecrets({ root: tree.dir });
      expect(r.failures).toHaveLength(2);
      expect(r.failures[0]).toStartWith("secret in deploy/node.key:1:1 [@secretlint/secretlint-rule-privatekey]: found private key: ****. Remove it");
      expect(r.failures[1]).toStartWith("secret in src/settings.ts:1:23 [@secretlint/secretlint-rule-github]: found GitHub Token");
      // Masked: the secret itself never reaches the build log.
      expect(r.failures.join("\n")).not.toContain("ghp_");
    } finally {
      tree.cleanup();
    }
  });

  test("secrets - development fixtures pass only at the exact paths .secretlintignore lists", async () => {
    const tree = await configuredTree(true);
    try {
      const key = await privateKeyPem();
      tree.write(".x0/pki/ca.key", key);
      tree.write(".x0/keys/planner.sealed", key);
      expect((await checkSecrets({ root: tree.dir })).failures).toEqual([]);
      // The same key one folder off is not a fixture.
      tree.write(".x0/pki-backup/ca.key", key);
      const r = await checkSecrets({ root: tree.dir });
      expect(r.failures).toEqual([expect.stringContaining("secret in .x0/pki-backup/ca.key:1:1")]);
    } finally {
      tree.cleanup();
    }
  });

  test("secrets - outside a git work tree every file but node_modules, .git and .x0 is scanned", async () => {
    const tree = await configuredTree(false);
    try {
      tree.write("node_modules/some-package/test.key", await privateKeyPem());
      expect((await checkSecrets({ root: tree.dir })).failures).toEqual([]);
      tree.write("ops/leaked.pem", await privateKeyPem());
      expect((await checkSecrets({ root: tree.dir })).failures).toEqual([expect.stringContaining("secret in ops/leaked.pem:1:1")]);
    } finally {
      tree.cleanup();
    }
  });
});
