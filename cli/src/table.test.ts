import { describe, expect, test } from "bun:test";
import { renderTable } from "./table.ts";

describe("table", () => {
  test("table - pads columns to the widest cell and separates them by two spaces", () => {
    const text = renderTable(
      [{ header: "NAME" }, { header: "N", align: "right" }],
      [
        ["analyzer", "7"],
        ["mon", "1234"],
      ],
    );
    expect(text.split("\n")).toEqual(["NAME         N", "analyzer     7", "mon       1234"]);
  });

  test("table - leaves no trailing spaces and renders missing cells empty", () => {
    const text = renderTable([{ header: "A" }, { header: "LONG HEADER" }], [["x"]]);
    expect(text.split("\n")).toEqual(["A  LONG HEADER", "x"]);
  });

  test("table - headers alone when there are no rows", () => {
    expect(renderTable([{ header: "SERVICE" }, { header: "READY" }], [])).toBe("SERVICE  READY");
  });
});
