import { describe, expect, test } from "bun:test";
import { LabSpecError } from "../errors.ts";
import { defaultMgmtSubnet, linkAddresses, mgmtBridgeAddress, mgmtNodeAddress, mgmtSubnetText, parseMgmtSubnet, serviceAddress } from "./addressing.ts";

describe("lab addressing", () => {
  test("lab addressing - link k gets 10.200.⌊k/64⌋.(k mod 64)·4 + 1 and + 2", () => {
    expect(linkAddresses(0)).toEqual(["10.200.0.1", "10.200.0.2"]);
    expect(linkAddresses(1)).toEqual(["10.200.0.5", "10.200.0.6"]);
    expect(linkAddresses(63)).toEqual(["10.200.0.253", "10.200.0.254"]);
    expect(linkAddresses(64)).toEqual(["10.200.1.1", "10.200.1.2"]);
    expect(() => linkAddresses(64 * 256)).toThrow(LabSpecError);
  });

  test("lab addressing - service and management addresses follow the node number", () => {
    expect(serviceAddress(1)).toBe("10.255.0.1");
    expect(serviceAddress(300)).toBe("10.255.1.44");
    expect(mgmtNodeAddress({ octet: 254 }, 9)).toBe("10.254.1.9");
    expect(mgmtNodeAddress({ octet: 254 }, 256)).toBe("10.254.2.0");
    expect(mgmtBridgeAddress({ octet: 254 })).toBe("10.254.0.1");
    expect(mgmtSubnetText({ octet: 254 })).toBe("10.254.0.0/16");
  });

  test("lab addressing - the default prefix gets 10.254/16, others a stable subnet in 10.100-199", () => {
    expect(defaultMgmtSubnet("x0")).toEqual({ octet: 254 });
    const other = defaultMgmtSubnet("x0t1234");
    expect(other.octet).toBeGreaterThanOrEqual(100);
    expect(other.octet).toBeLessThan(200);
    expect(defaultMgmtSubnet("x0t1234")).toEqual(other);
  });

  test("lab addressing - --mgmt-subnet must be 10.N.0.0/16 off the link and service ranges", () => {
    expect(parseMgmtSubnet("10.77.0.0/16")).toEqual({ octet: 77 });
    for (const text of ["10.200.0.0/16", "10.255.0.0/16", "10.77.0.0/24", "192.168.0.0/16", "10.300.0.0/16"])
      expect(() => parseMgmtSubnet(text)).toThrow(LabSpecError);
  });
});
