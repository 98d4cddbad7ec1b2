// The images the release workflow publishes are the ones the Kubernetes manifests and docker-compose run.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@x0/shared/testing";
import { parse as parseYaml } from "yaml";
import { render } from "./k8s-render.ts";

interface Workflow {
  on: { push: { tags: string[] } };
  jobs: Record<
    string,
    {
      permissions?: Record<string, string>;
      env?: Record<string, string>;
      strategy?: { matrix: { include: { image: string; dockerfile: string }[] } };
      steps: { uses?: string; run?: string; id?: string; with?: Record<string, string | boolean> }[];
    }
  >;
}

const workflow = parseYaml(readFileSync(join(REPO_ROOT, ".github", "workflows", "images.yml"), "utf8")) as Workflow;
const build = workflow.jobs.build as Workflow["jobs"][string];
/** A GitHub Actions expression, `${{ … }}`. */
const expression = (inner: string) => ["$", "{{ ", inner, " }}"].join("");
const REGISTRY = (build.env?.IMAGE ?? "").replace(expression("matrix.image"), "");
/** What the workflow publishes: full image name and its Dockerfile. */
const published = (build.strategy?.matrix.include ?? []).map(({ image, dockerfile }) => ({ name: `${REGISTRY}${image}`, dockerfile }));

/** The version every package.json carries (the release tag without its v). */
function packageVersion(): string {
  const files = ["shared/package.json", "cli/package.json", ...readdirSync(join(REPO_ROOT, "services")).map((service) => `services/${service}/package.json`)];
  const versions = new Set(files.map((file) => (JSON.parse(readFileSync(join(REPO_ROOT, file), "utf8")) as { version: string }).version));
  expect([...versions]).toHaveLength(1);
  return [...versions][0] as string;
}

interface Kustomization {
  images: { name: string; newName: string; newTag?: string; digest?: string }[];
}
const kustomization = (path: string) => parseYaml(readFileSync(join(REPO_ROOT, "k8s", path, "kustomization.yaml"), "utf8")) as Kustomization;

describe("images", () => {
  test("images - the workflow builds the two images for amd64 and arm64 from a version tag, with provenance, SBOM and a cosign signature", () => {
    expect(REGISTRY).toBe("ghcr.io/x0tta6bl4/");
    expect(published.map((image) => image.name).sort()).toEqual(["ghcr.io/x0tta6bl4/x0tta6bl4", "ghcr.io/x0tta6bl4/x0tta6bl4-crypto"]);
    expect(workflow.on.push.tags).toEqual(["v*.*.*"]);
    const push = build.steps.find((step) => step.uses?.startsWith("docker/build-push-action@"));
    expect(push?.with).toMatchObject({
      platforms: "linux/amd64,linux/arm64",
      push: true,
      provenance: "mode=max",
      sbom: true,
      file: expression("matrix.dockerfile"),
    });
    const sign = build.steps.find((step) => step.run?.startsWith("cosign sign"));
    expect(sign?.run).toContain(`@\${{ steps.${push?.id}.outputs.digest }}`);
    expect(build.permissions).toMatchObject({ packages: "write", "id-token": "write" });
    // Every action is pinned to a release.
    for (const job of Object.values(workflow.jobs)) for (const step of job.steps) if (step.uses) expect(step.uses).toMatch(/@v\d+$|@[0-9a-f]{40}$/);
    // The Dockerfiles exist; the main one's last stage is what is published.
    for (const image of published) expect(readFileSync(join(REPO_ROOT, image.dockerfile), "utf8")).toContain("FROM ");
  });

  test("images - k8s base and the prod overlay name exactly the published images at the packages' version; prod pins a tag or a digest", async () => {
    const version = packageVersion();
    for (const path of ["base", "overlays/prod"]) {
      const images = kustomization(path).images;
      expect(images.map((image) => image.newName).sort(), path).toEqual(published.map((image) => image.name).sort());
      for (const image of images) {
        expect(image.newName.endsWith(`/${image.name}`), image.name).toBe(true);
        if (image.digest) expect(image.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
        else expect(image.newTag, `${path}: ${image.name}`).toBe(version);
      }
    }
    // What runs: every x0 container of prod uses one of them.
    const objects = await render("prod");
    const used = objects.flatMap((object) => [...(object.spec.template?.spec.initContainers ?? []), ...(object.spec.template?.spec.containers ?? [])]);
    const ours = used.filter((container) => container.image?.startsWith("ghcr.io/x0tta6bl4/"));
    expect(ours.length).toBeGreaterThan(8);
    for (const container of ours) {
      expect(published.map((image) => image.name)).toContain((container.image as string).replace(/[:@].*$/, ""));
    }
  }, 30_000);

  test("images - docker-compose builds the same two images from the same Dockerfiles", () => {
    const compose = parseYaml(readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
      services: Record<string, { image?: string; build?: { dockerfile?: string } }>;
    };
    const built = Object.values(compose.services).filter((service) => service.build);
    expect(built.length).toBeGreaterThan(5);
    for (const service of built) {
      const repository = (service.image ?? "").replace(/:[^/:]*$/, "");
      // Built locally (x0tta6bl4:dev) or the released name itself.
      const match = published.find((image) => image.name === repository || image.name.endsWith(`/${repository}`));
      expect(match, service.image).toBeDefined();
      expect(service.build?.dockerfile ?? "Dockerfile", service.image).toBe(match?.dockerfile as string);
    }
  });
});
