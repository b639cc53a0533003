/**
 * Nothing acknowledged is ever lost: a server killed with SIGKILL while pushes are in flight
 * finds every acknowledged push again after a restart; SIGTERM flushes the open segment,
 * answers its pushes and exits 0.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { getLabel } from "../src/model/labels.ts";
import { type ChildKiln, spawnKiln, tempDataDir } from "./helpers/kiln.ts";
import { readStored } from "./helpers/stored.ts";

interface PushOutcome {
  acked: Set<number>;
  failed: number;
}

/**
 * Concurrent clients push small folded profiles, each with a unique `push_id` label, until
 * `stop()` is called; a push counts as acknowledged only on a 200.
 */
function pushLoad(
  server: ChildKiln,
  clients: number,
): { stop(): void; ackedCount(): number; done: Promise<PushOutcome> } {
  let stopping = false;
  let next = 0;
  const outcome: PushOutcome = { acked: new Set(), failed: 0 };
  const client = async () => {
    // Bounded: a client stops at the first failure (the server is gone) or when told.
    while (!stopping) {
      const id = next++;
      const query = new URLSearchParams({
        name: `durable-app{push_id=${id}}`,
        from: String(Math.floor(Date.now() / 1000)),
      });
      try {
        const res = await fetch(`${server.url}/ingest?${query}`, {
          method: "POST",
          body: `main;handler;work_${id % 7} ${1 + (id % 5)}\nmain;idle 1\n`,
        });
        await res.arrayBuffer();
        if (res.status === 200) outcome.acked.add(id);
        else outcome.failed++;
        if (res.status >= 500) return;
      } catch {
        outcome.failed++;
        return;
      }
    }
  };
  const done = Promise.all(Array.from({ length: clients }, client)).then(() => outcome);
  return {
    stop: () => {
      stopping = true;
    },
    ackedCount: () => outcome.acked.size,
    done,
  };
}

async function storedPushIds(dataDir: string): Promise<Set<number>> {
  const stored = await readStored(dataDir, { service: "durable-app" });
  const ids = new Set<number>();
  for (const labels of stored.series) ids.add(Number(getLabel(labels, "push_id")));
  return ids;
}

test("SIGKILL during pushes: every acknowledged push is found after restart", async () => {
  const dataDir = tempDataDir("kiln-crash-");
  try {
    const first = await spawnKiln(dataDir, ["--flush-interval-ms", "100"]);
    const load = pushLoad(first, 8);
    // Kill mid-stream, after a good number of acknowledgements, with pushes still in flight.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && load.ackedCount() < 40) {
      await new Promise((r) => setTimeout(r, 20));
    }
    first.child.kill("SIGKILL");
    const exit = await first.exited;
    assert.equal(exit.signal, "SIGKILL");
    load.stop();
    const { acked } = await load.done;
    assert.ok(acked.size >= 40, `pushes were acknowledged before the kill (${acked.size})`);

    const second = await spawnKiln(dataDir);
    try {
      const ready = await fetch(`${second.url}/ready`);
      assert.equal(ready.status, 200);
      const stored = await storedPushIds(dataDir);
      const missing = [...acked].filter((id) => !stored.has(id));
      assert.deepEqual(missing, [], "acknowledged pushes missing after SIGKILL and restart");
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("SIGTERM flushes the open segment, answers its pushes and exits 0", async () => {
  const dataDir = tempDataDir("kiln-term-");
  try {
    // A long flush window: the pushes below are all waiting in the open segment at SIGTERM.
    const server = await spawnKiln(dataDir, ["--flush-interval-ms", "60000"]);
    const pushes = Array.from({ length: 20 }, async (_, id) => {
      const query = new URLSearchParams({
        name: `durable-app{push_id=${id}}`,
        from: String(Math.floor(Date.now() / 1000)),
      });
      const res = await fetch(`${server.url}/ingest?${query}`, { method: "POST", body: "main;work 3\n" });
      return res.status;
    });
    // Wait until all 20 pushes sit in the open segment, as the server's own gauge reports.
    await waitForMetric(server.url, "kiln_segment_open_profiles", 20, 10_000);
    server.child.kill("SIGTERM");
    const statuses = await Promise.all(pushes);
    assert.deepEqual(statuses, Array(20).fill(200), "every push waiting at SIGTERM is answered 200");
    const exit = await server.exited;
    assert.equal(exit.code, 0, server.logs.join("\n"));
    const stored = await storedPushIds(dataDir);
    assert.deepEqual(
      [...stored].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i),
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

async function waitForMetric(url: string, name: string, atLeast: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const text = await (await fetch(`${url}/metrics`)).text();
    last = text.split("\n").find((l) => l.startsWith(`${name} `)) ?? "";
    if (Number(last.split(" ")[1]) >= atLeast) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${name} did not reach ${atLeast} within ${timeoutMs} ms (last: ${last})`);
}
