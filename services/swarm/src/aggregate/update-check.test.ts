import { describe, expect, test } from "bun:test";
import { l2Norm, updateProblem } from "./update-check.ts";

describe("update check", () => {
  test("update-check - a wrongly sized, non-finite or too large update is refused with the reason; a fitting one passes", () => {
    expect(l2Norm(Float32Array.from([3, 4]))).toBe(5);
    expect(updateProblem(Float32Array.from([3, 4]), 2, 5)).toBeUndefined();
    expect(updateProblem(Float32Array.from([3, 4, 0]), 2, 5)).toBe("the update has 3 values, the model has 2");
    expect(updateProblem(Float32Array.from([3, Number.NaN]), 2, 5)).toBe("value 1 is NaN, not a finite number");
    expect(updateProblem(Float32Array.from([Number.POSITIVE_INFINITY, 0]), 2, 5)).toBe("value 0 is Infinity, not a finite number");
    expect(updateProblem(Float32Array.from([30, 40]), 2, 5)).toBe("the update's norm 50.00 exceeds the bound 5");
  });
});
