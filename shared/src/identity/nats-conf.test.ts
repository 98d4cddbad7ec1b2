import { describe, expect, test } from "bun:test";
import { formatConf, Verbatim } from "./nats-conf.ts";

describe("nats-conf", () => {
  test("nats-conf - values are quoted unless nats-server reads them back unchanged", () => {
    const text = formatConf(
      {
        name: "x0-nats-route",
        path: "/etc/nats/svid/svid.pem",
        subject: "$JS.API.INFO",
        wildcard: "x0.anomaly.*",
        url: "nats://a:6222",
        version: "1.2",
        flag: "true",
        size: new Verbatim("8Gi"),
        variable: new Verbatim("$POD_NAME"),
        include: "../auth/authorization.conf",
        list: [{ user: "spiffe://td/x0/rag" }],
      },
      ["a comment"],
    );
    expect(text).toBe(
      [
        "# a comment",
        "name: x0-nats-route",
        "path: /etc/nats/svid/svid.pem",
        'subject: "$JS.API.INFO"',
        'wildcard: "x0.anomaly.*"',
        'url: "nats://a:6222"',
        'version: "1.2"',
        'flag: "true"',
        "size: 8Gi",
        "variable: $POD_NAME",
        'include "../auth/authorization.conf"',
        "list: [",
        "  {",
        '    user: "spiffe://td/x0/rag"',
        "  }",
        "]",
        "",
      ].join("\n"),
    );
  });

  test("nats-conf - nested lists and maps are indented, an empty comment line is a bare #", () => {
    expect(formatConf({ a: { b: [[1, true]] } }, ["x", ""])).toBe(
      ["# x", "#", "a {", "  b: [", "    [", "      1", "      true", "    ]", "  ]", "}", ""].join("\n"),
    );
  });
});
