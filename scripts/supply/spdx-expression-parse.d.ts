// Types of spdx-expression-parse (it ships none): an SPDX licence expression as a tree.
declare module "spdx-expression-parse" {
  export type LicenseInfo = { license: string; plus?: true; exception?: string };
  export type ConjunctionInfo = { conjunction: "and" | "or"; left: LicenseInfo | ConjunctionInfo; right: LicenseInfo | ConjunctionInfo };
  export default function parse(expression: string): LicenseInfo | ConjunctionInfo;
}
