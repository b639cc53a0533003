import assert from "node:assert/strict";
import { test } from "node:test";
import { splitFunctionName } from "./function-name.ts";

test("slash paths keep the last segment with its class or package as the short name", () => {
  assert.deepEqual(splitFunctionName("java/io/UnixFileSystem.getBooleanAttributes0"), {
    prefix: "java/io/",
    short: "UnixFileSystem.getBooleanAttributes0",
  });
  assert.deepEqual(splitFunctionName("github.com/grafana/pyroscope-go/godeltaprof.(*HeapProfiler).Profile"), {
    prefix: "github.com/grafana/pyroscope-go/",
    short: "godeltaprof.(*HeapProfiler).Profile",
  });
  assert.deepEqual(splitFunctionName("./node_modules/express/lib/router.js:handle:12"), {
    prefix: "./node_modules/express/lib/",
    short: "router.js:handle:12",
  });
});

test("a slash inside arguments or generics is not a path", () => {
  assert.deepEqual(splitFunctionName("main.work (src/main.go:12)"), {
    prefix: "",
    short: "main.work (src/main.go:12)",
  });
  assert.deepEqual(splitFunctionName("std::vector<a/b>::push"), {
    prefix: "",
    short: "std::vector<a/b>::push",
  });
});

test("dotted Java names split before the class; names without a class stay whole", () => {
  assert.deepEqual(splitFunctionName("com.example.Foo.bar"), { prefix: "com.example.", short: "Foo.bar" });
  assert.deepEqual(splitFunctionName("runtime.mallocgc"), { prefix: "", short: "runtime.mallocgc" });
  assert.deepEqual(splitFunctionName("Monitor::wait"), { prefix: "", short: "Monitor::wait" });
  assert.deepEqual(splitFunctionName("total"), { prefix: "", short: "total" });
});

test("prefix and short always join back to the name", () => {
  for (const name of ["a/", "/", "x/y/z", "a.B.c", "no_Java_frame", "libc.so.6+0x1f00", "StubRoutines (2)"]) {
    const { prefix, short } = splitFunctionName(name);
    assert.equal(prefix + short, name);
  }
});
