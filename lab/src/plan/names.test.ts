import { describe, expect, test } from "bun:test";
import { LabSpecError } from "../errors.ts";
import {
  isLabMgmtInterface,
  isLabNamespace,
  linkInterfaceOf,
  pinRootOf,
  sysfsDirOf,
  validateInterfaceName,
  validateNodeName,
  validatePrefix,
} from "./names.ts";

describe("lab names", () => {
  test("lab names - prefixes, node and interface names are checked before they reach ip", () => {
    expect(validatePrefix("x0t123")).toBe("x0t123");
    for (const prefix of ["", "X0", "0x", "x-0", "x0/..", "abcdefghijk"]) expect(() => validatePrefix(prefix)).toThrow(LabSpecError);
    expect(validateNodeName("n999")).toBe("n999");
    for (const node of ["n0", "n1000", "n01", "x1", "n1 ", "n1;rm"]) expect(() => validateNodeName(node)).toThrow(LabSpecError);
    expect(validateInterfaceName("n12-n13")).toBe("n12-n13");
    for (const name of ["", "-n1", "a b", "a/b", "dev:0", "sixteen-chars-xx"]) expect(() => validateInterfaceName(name)).toThrow(LabSpecError);
    expect(linkInterfaceOf("n999", "n998")).toBe("n999-n998");
  });

  test("lab names - down only matches what the lab creates", () => {
    expect(isLabNamespace("x0", "x0-n12")).toBe(true);
    for (const name of ["x0-n0", "x0-n12a", "x0-mgmt", "x0t1-n1", "x0-", "x0-nodes"]) expect(isLabNamespace("x0", name)).toBe(false);
    expect(isLabMgmtInterface("x0", "x0-m3")).toBe(true);
    expect(isLabMgmtInterface("x0", "x0-mgmt")).toBe(false);
    expect(isLabMgmtInterface("x0", "x0t-m3")).toBe(false);
  });

  test("lab names - mounts and pins live under per-prefix folders", () => {
    expect(sysfsDirOf("x0", "n1")).toBe("/run/x0/lab/x0/n1/sys");
    expect(pinRootOf("x0", "n1")).toBe("/sys/fs/bpf/x0lab/n1");
  });
});
