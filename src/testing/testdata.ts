/**
 * Access to the shared real-profile corpus (../shared/testdata beside the repo). It is
 * present in CI but not in a user's clone: tests that need it call `testdataDir()` and skip
 * with a clear reason when it is missing, except under CI (CI=true), where a missing corpus
 * is a failure rather than a silent skip.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const testdataRoot: string = process.env.KILN_TESTDATA ?? resolve(repoRoot, "../shared/testdata");

export interface TestdataAvailability {
  dir: string | undefined;
  /** Pass as the `skip` option of node:test: false when available, else the reason. */
  skip: string | false;
}

/** Locates a subfolder of the corpus (e.g. "pprof"); throws under CI when it is missing. */
export function testdata(subdir = ""): TestdataAvailability {
  const dir = join(testdataRoot, subdir);
  if (existsSync(dir)) return { dir, skip: false };
  if (process.env.CI) {
    throw new Error(`CI is set but the shared testdata folder ${dir} is missing`);
  }
  return { dir: undefined, skip: `shared testdata not found at ${dir} (it sits beside the repo in CI)` };
}

export function testdataFile(relativePath: string): string {
  const { dir } = testdata();
  if (!dir) throw new Error(`shared testdata missing at ${testdataRoot}`);
  return join(dir, relativePath);
}

/**
 * The `spyName` each profiler's SDK sends with a corpus file (by its name); it switches
 * per-language fixes on, e.g. `-` → `_` in .NET sample type names.
 */
export function spyNameFor(file: string): string {
  const spies: [RegExp, string][] = [
    [/dotnet/, "dotnetspy"],
    [/python/, "pyspy"],
    [/ruby/, "rbspy"],
    [/java/, "javaspy"],
    [/nodejs/, "nodespy"],
    [/ebpf/, "ebpfspy"],
  ];
  return spies.find(([re]) => re.test(file))?.[1] ?? "gospy";
}
