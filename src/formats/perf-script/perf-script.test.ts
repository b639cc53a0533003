import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { KilnError } from "../../model/errors.ts";
import { testdata } from "../../testing/testdata.ts";
import { type PerfScriptStats, parsePerfScript } from "./perf-script.ts";

const limits = { maxDecodedBytes: 1 << 22, maxDistinctStacks: 16000, maxStackDepth: 1000 };
const corpus = testdata("perf-script");
const enc = (s: string) => new TextEncoder().encode(s);
const fold = (text: string, l = limits) =>
  Object.fromEntries([...parsePerfScript(enc(text), l).entries()].map(([f, v]) => [f.join(";"), v]));

describe("perf script: corpus (MANIFEST sample header lines)", { skip: corpus.skip }, () => {
  const cases: [string, number][] = [
    ["speedscope-simple-with-header.linux-perf.txt", 136],
    ["speedscope-rust-mangled.linux-perf.txt", 96],
    ["speedscope-forks.linux-perf.txt", 561],
  ];
  for (const [name, headers] of cases) {
    it(`${name}: ${headers} samples, each counted once`, () => {
      const stats: PerfScriptStats = { samples: 0, frameLines: 0, ignoredLines: 0 };
      const stacks = parsePerfScript(readFileSync(join(corpus.dir ?? "", name)), limits, stats);
      assert.equal(stats.samples, headers);
      assert.equal(stats.ignoredLines, 0);
      assert.equal(stacks.total(), headers);
    });
  }

  it("simple-with-header: command name is the root, [unknown] frames as stackcollapse-perf", () => {
    const stacks = parsePerfScript(
      readFileSync(join(corpus.dir ?? "", "speedscope-simple-with-header.linux-perf.txt")),
      limits,
    );
    const first = [...stacks.entries()][0]![0];
    assert.deepEqual(first, [
      "simple-terminat",
      "[unknown]",
      "__libc_start_main",
      "main",
      "_Z5deltav",
      "_Z4betav",
    ]);
  });

  it("rust-mangled: +0x offsets are stripped", () => {
    const stacks = parsePerfScript(
      readFileSync(join(corpus.dir ?? "", "speedscope-rust-mangled.linux-perf.txt")),
      limits,
    );
    for (const [frames] of stacks.entries()) {
      for (const f of frames) assert.doesNotMatch(f, /\+0x[0-9a-f]+$/);
      assert.equal(frames[1], "_start");
    }
  });
});

describe("perf script: folding rules", () => {
  it("header forms, offsets, inline chains, [unknown] modules, tidying", () => {
    const text = [
      "# comment",
      "V8 WorkerThread 24636/25607 [000] 94564.109216: cycles:",
      "\t7f01 leaf+0x1a (/usr/lib/libfoo.so)",
      "\t7f02 [unknown] (/usr/lib/libbar.so.1)",
      "\t7f03 outer->inner (/bin/app)",
      "\t7f04 ns::fn(int, char) (/bin/app)",
      "\t7f05 net/http.(*Client).Do (/bin/app)",
      "\t7f06 (anonymous namespace)::x(int) (/bin/app)", // starts with "(": skipped, as the script does
      '\t7f07 a;b "q" (/bin/app)',
      "\t7f08 (deleted) (/bin/app)",
      "\t7f09 [unknown] ([unknown])",
      "",
      "java 12688 [002] 6544038.708352: 1001001 cpu-clock:",
      "\t1 Lorg/x/Y;.call(Lorg/x/Z;)V (/tmp/perf-1.map)",
      "",
      "",
      "app 7 1.0: cpu-clock:",
      "\t1 main (/bin/app)",
    ].join("\n");
    assert.deepEqual(fold(text), {
      "V8_WorkerThread;[unknown];a:b q;net/http.(*Client).Do;ns::fn;outer;inner_[i];[libbar.so.1];leaf": 1,
      "java;org/x/Y:.call": 1,
      "app;main": 1,
    });
  });

  it("identical samples add up; a sample without frames counts under its command", () => {
    const sample = "prog 1 1.0: cpu-clock:\n\t1 f (/p)\n\n";
    assert.deepEqual(fold(`${sample}${sample}prog 1 2.0: cpu-clock:\n\n`), { "prog;f": 2, prog: 1 });
  });

  it("depth cut keeps the root-most frames; distinct stacks are capped", () => {
    const deep = `p 1 1.0: c:\n${Array.from({ length: 50 }, (_, i) => `\t1 f${i} (/p)`).join("\n")}\n`;
    assert.deepEqual(fold(deep, { ...limits, maxStackDepth: 3 }), { "p;f49;f48": 1 });
    const many = Array.from({ length: 5 }, (_, i) => `p 1 1.0: c:\n\t1 g${i} (/p)\n`).join("\n");
    assert.throws(() => fold(many, { ...limits, maxDistinctStacks: 4 }), /more than 4 distinct stacks/);
  });

  it("text without any sample is malformed", () => {
    assert.throws(
      () => parsePerfScript(enc("# only a header\n\n"), limits),
      (err: unknown) => err instanceof KilnError && err.reason === "malformed_perf_script",
    );
  });
});
