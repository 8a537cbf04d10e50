// Auth against the real server with tokens configured: REST sends the bearer token, a 401 is
// reported to the caller, and the socket authenticates (a ticket where the server has the
// route, else the token, since a browser cannot set headers on a WebSocket).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { ApiError, DashboardClient } from "../src/dashboard-client.js";
import { Stack, waitFor } from "./support.js";

const SECRET = "console-test-secret-0123456789";
/** @type {Stack} */
let stack;
before(async () => {
  stack = new Stack({ DASHBOARD_API_TOKENS: `ui:read+write:${SECRET}` }); // assigned first: `after` cleans up a failed start too
  await stack.start();
});
after(async () => {
  await stack?.stop();
});

test("without a token the API answers 401 and the caller is told", async () => {
  const told = /** @type {number[]} */ ([]);
  const client = new DashboardClient({ baseUrl: stack.baseUrl, onUnauthorized: (e) => told.push(e.status) });
  await assert.rejects(client.listTasks(), (error) => error instanceof ApiError && error.status === 401);
  assert.deepEqual(told, [401]);
});

test("with a token, REST works and the socket receives a task's events", async () => {
  const client = new DashboardClient({ baseUrl: stack.baseUrl, token: () => SECRET });
  const task = await client.createTask({ agent_type: "coder", input_message: "authenticated" });
  const seen = /** @type {string[]} */ ([]);
  let subscribed = false;
  const socket = client.socket();
  socket.subscribe(`task:${task.task_id}`, {
    onSubscribed: () => { subscribed = true; },
    onEvent: (event) => seen.push(event.status ?? event.type),
  });
  await waitFor(() => subscribed, 10_000, "the subscription");
  await client.stopTask(task.task_id); // a queued task is cancelled at once: an event
  await waitFor(() => seen.includes("cancelled"), 10_000, "the cancelled status");
  socket.close();
  const auth = await client.socketAuth();
  assert.ok(auth.ticket || auth.token === SECRET, "a ticket, or the token where no ticket route exists");
});
