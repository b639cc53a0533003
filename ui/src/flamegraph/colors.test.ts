import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DIFF_STEPS,
  diffColor,
  diffLegend,
  diffStep,
  diffStepColor,
  frameColor,
  packageOf,
  relativeChange,
} from "./colors.ts";

describe("packageOf", () => {
  it("finds the package or module of each language's frame names", () => {
    const cases: [string, string][] = [
      ["runtime.mallocgc", "runtime"],
      ["runtime.(*mheap).alloc", "runtime"],
      [
        "github.com/grafana/loki/pkg/chunkenc.(*entryBufferedIterator).Next",
        "github.com/grafana/loki/pkg/chunkenc",
      ],
      ["google.golang.org/grpc.(*Server).handleStream", "google.golang.org/grpc"],
      [
        "github.com/google/btree.(*node[go.shape.interface { Less(github.com/google/btree.Item) bool }]).iterate",
        "github.com/google/btree",
      ],
      ["java/io/UnixFileSystem.getNameMax0", "java/io/UnixFileSystem"],
      ["com.example.Something.doSomething", "com.example.Something"],
      ["System!Number.Int64ToDecStr", "System"],
      ["./node_modules/express/lib/router/index.js:handle:174", "express"],
      ["./index.js:(anonymous):22", "./index.js"],
      ["node:events:emit:532", "node:events"],
      ["process_data (app/worker.py:42)", "app/worker.py"],
      ["libc.so.6+0x1f00", "libc.so.6"],
      ["cmpbody", "cmpbody"],
    ];
    for (const [name, expected] of cases) assert.equal(packageOf(name), expected, name);
  });
});

describe("frame colours", () => {
  it("are stable per package and per theme", () => {
    assert.equal(frameColor("runtime.mallocgc", "light"), frameColor("runtime.memmove", "light"));
    assert.equal(frameColor("runtime.mallocgc", "dark"), frameColor("runtime.scanobject", "dark"));
    assert.notEqual(frameColor("runtime.mallocgc", "light"), frameColor("runtime.mallocgc", "dark"));
    assert.notEqual(frameColor("runtime.mallocgc", "light"), frameColor("fmt.Sprintf", "light"));
    // Pinned: the same name gets the same colour in every session and release.
    assert.equal(frameColor("runtime.mallocgc", "light"), "hsl(315 53% 68%)");
  });
});

describe("diff colours", () => {
  it("compute the relative change of a share, with left-only and right-only frames", () => {
    assert.equal(relativeChange(0.5, 0.25), -0.5);
    assert.equal(relativeChange(0.2, 0), -1);
    assert.equal(relativeChange(0, 0.3), Number.POSITIVE_INFINITY);
    assert.equal(relativeChange(0, 0), 0);
  });

  it("are neutral at zero, red for increases, green for decreases", () => {
    for (const theme of ["light", "dark"] as const) {
      const neutral = rgb(diffColor(0, theme));
      assert.equal(neutral.r, neutral.g);
      assert.equal(neutral.g, neutral.b);
      const up = rgb(diffColor(0.5, theme));
      assert.ok(up.r > up.g && up.r > neutral.r - 1, `${theme} increase is red`);
      const down = rgb(diffColor(-0.5, theme));
      assert.ok(down.g > down.r, `${theme} decrease is green`);
    }
    assert.equal(diffStep(0.5), DIFF_STEPS / 2);
    assert.equal(diffStep(-0.5), -DIFF_STEPS / 2);
    // A tiny change still leaves neutral.
    assert.equal(diffStep(0.001), 1);
    assert.equal(diffStep(-0.001), -1);
  });

  it("saturate at ±100%", () => {
    assert.equal(diffStep(1), DIFF_STEPS);
    assert.equal(diffStep(7), DIFF_STEPS);
    assert.equal(diffStep(Number.POSITIVE_INFINITY), DIFF_STEPS);
    assert.equal(diffStep(-1), -DIFF_STEPS);
    assert.equal(diffColor(3, "light"), diffColor(1, "light"));
    assert.notEqual(diffColor(0.9, "light"), diffColor(1, "light"));
    assert.equal(diffStepColor(DIFF_STEPS, "light"), "rgb(226, 66, 56)");
  });

  it("have a legend from decrease to increase through neutral", () => {
    const legend = diffLegend("light");
    assert.equal(legend.length, 7);
    assert.equal(legend[3]![0], "0%");
    assert.equal(legend[3]![1], diffColor(0, "light"));
    assert.ok(rgb(legend[0]![1]).g > rgb(legend[0]![1]).r);
    assert.ok(rgb(legend[6]![1]).r > rgb(legend[6]![1]).g);
  });
});

function rgb(color: string): { r: number; g: number; b: number } {
  const m = /^rgb\((\d+), (\d+), (\d+)\)$/.exec(color);
  assert.ok(m, color);
  return { r: Number(m[1]), g: Number(m[2]), b: Number(m[3]) };
}
