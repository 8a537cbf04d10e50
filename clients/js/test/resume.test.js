// DashboardSocket against the real server: a restart mid-stream loses and repeats nothing.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { DashboardClient } from "../src/dashboard-client.js";
import { Stack, waitFor } from "./support.js";

/** @type {Stack} */
let stack;
before(async () => {
  stack = new Stack(); // assigned first: `after` cleans up a failed start too
  await stack.start();
});
after(async () => {
  await stack?.stop();
});

test("a task's output resumes through a server restart with no gap and no duplicate", async () => {
  const client = new DashboardClient({ baseUrl: stack.baseUrl });
  const task = await client.createTask({ agent_type: "coder", input_message: "count to 150" });
  const lines = /** @type {string[]} */ ([]);
  const states = /** @type {string[]} */ ([]);
  let finalStatus = "";
  const socket = client.socket({ initialDelayMs: 100, onState: (s) => states.push(s) });
  socket.subscribe(`task:${task.task_id}`, {
    onEvent(event) {
      if (event.type === "task_output") lines.push(event.output.trim());
      if (event.type === "task_status") finalStatus = event.status;
    },
  });
  await waitFor(() => states.includes("open"), 5_000, "the socket to open");
  const engine = stack.engine(task.task_id, 150, 100);
  await waitFor(() => lines.length >= 20, 10_000, "the first lines");
  await stack.stopServer(); // the engine goes on publishing into Redis meanwhile
  await stack.startServer();
  await engine;
  await waitFor(() => finalStatus === "completed", 20_000, "the completed status");
  socket.close();
  const expected = Array.from({ length: 150 }, (_, n) => `line ${n}`);
  assert.deepEqual(lines, expected);
  assert.ok(states.filter((s) => s === "open").length >= 2, "the socket reconnected");
  assert.equal((await client.getTask(task.task_id)).status, "completed");
});
