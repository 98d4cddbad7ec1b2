// The image cannot be built here (no Docker engine, no internet): the Dockerfile is checked statically.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const dockerfile = await Bun.file(join(import.meta.dir, "..", "Dockerfile")).text();

describe("dockerfile", () => {
  test("dockerfile - builds liboqs from an official open-quantum-safe release tag with cmake", () => {
    const version = /ARG LIBOQS_VERSION=(\d+\.\d+\.\d+)\n/.exec(dockerfile)?.[1];
    expect(version).toBeDefined();
    const [major, minor] = (version ?? "0.0").split(".").map(Number);
    // 0.12 is the oldest API the binding follows; 0.15 adds OQS_KEM_encaps_derand for the accumulated KAT.
    expect((major ?? 0) > 0 || (minor ?? 0) >= 12).toBe(true);
    expect(dockerfile).toContain(["https://github.com/open-quantum-safe/liboqs/archive/refs/tags/", "$", "{LIBOQS_VERSION}.tar.gz"].join(""));
    expect(dockerfile).toMatch(/cmake -S \/src -B \/build/);
    expect(dockerfile).toContain("-DBUILD_SHARED_LIBS=ON");
    expect(dockerfile).toContain("cmake --install /build");
    expect(dockerfile).toContain("KEM_ml_kem_768;SIG_ml_dsa_65");
  });

  test("dockerfile - the service finds the built library through OQS_LIB and requires it", () => {
    expect(dockerfile).toContain("OQS_LIB=/opt/liboqs/lib/liboqs.so");
    expect(dockerfile).toContain("X0_CRYPTO_BACKEND=liboqs");
    expect(dockerfile).toContain('CMD ["bun", "services/crypto/src/main.ts"]');
    expect(dockerfile).not.toMatch(/X0_KEK=/);
  });
});
