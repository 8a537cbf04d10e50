// DashboardSocket's side of the protocol, against a scripted socket: what it sends on a resume,
// what it does with a `subscribed` that says continuity was lost, replays that overlap, 1013.
import assert from "node:assert/strict";
import { test } from "node:test";

import { DashboardSocket, compareEventIds } from "../src/dashboard-client.js";

/** A WebSocket stand-in the test drives by hand: records what the client sends. */
class ScriptedSocket {
  /** @type {ScriptedSocket[]} */
  static opened = [];
  /** @param {string} url */
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    /** @type {any[]} */
    this.sent = [];
    /** @type {any} */ this.onopen = null;
    /** @type {any} */ this.onmessage = null;
    /** @type {any} */ this.onclose = null;
    /** @type {any} */ this.onerror = null;
    ScriptedSocket.opened.push(this);
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  /** @param {string} text */
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  /** @param {object} frame */
  deliver(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  /** @param {number} code */
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** @param {Partial<import('../src/dashboard-client.js').SocketOptions>} [options] */
async function connected(options = {}) {
  ScriptedSocket.opened = [];
  const socket = new DashboardSocket({
    url: "ws://test/ws",
    initialDelayMs: 1,
    maxDelayMs: 5,
    WebSocket: /** @type {any} */ (ScriptedSocket),
    ...options,
  });
  await tick();
  ScriptedSocket.opened[0].open();
  return socket;
}

test("a resumed channel asks for what came after its last event and its epoch", async () => {
  const socket = await connected();
  const events = /** @type {string[]} */ ([]);
  socket.subscribe("task:1", { onEvent: (e) => events.push(e.id) });
  const first = ScriptedSocket.opened[0];
  assert.deepEqual(first.sent, [{ type: "subscribe", channel: "task:1" }]);
  first.deliver({ type: "subscribed", channel: "task:1", recovered: true, epoch: "e1" });
  first.deliver({ type: "task_output", channel: "task:1", id: "10-0", output: "a" });
  first.deliver({ type: "task_output", channel: "task:1", id: "10-1", output: "b" });
  first.close(1006);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = ScriptedSocket.opened[1];
  second.open();
  assert.deepEqual(second.sent, [
    { type: "subscribe", channel: "task:1", since: "10-1", epoch: "e1" },
  ]);
  // The replay overlaps what was delivered: each event reaches the caller once.
  second.deliver({ type: "task_output", channel: "task:1", id: "10-1", output: "b" });
  second.deliver({ type: "task_output", channel: "task:1", id: "11-0", output: "c" });
  assert.deepEqual(events, ["10-0", "10-1", "11-0"]);
  socket.close();
});

test("a resume the server could not replay is reported as a gap", async () => {
  const socket = await connected();
  const gaps = /** @type {string[]} */ ([]);
  socket.subscribe("tasks", { since: "5-0", onEvent: () => {}, onGap: (g) => gaps.push(g.reason) });
  const ws = ScriptedSocket.opened[0];
  ws.deliver({ type: "subscribed", channel: "tasks", recovered: false, epoch: "e2" });
  assert.deepEqual(gaps, ["not_recovered"]);
  socket.close();
});

test("a changed epoch is a gap even when the server says recovered", async () => {
  const socket = await connected();
  const gaps = /** @type {string[]} */ ([]);
  socket.subscribe("tasks", { onEvent: () => {}, onGap: (g) => gaps.push(g.reason) });
  const ws = ScriptedSocket.opened[0];
  ws.deliver({ type: "subscribed", channel: "tasks", recovered: true, epoch: "e1" });
  ws.deliver({ type: "task_status", channel: "tasks", id: "7-0" });
  assert.deepEqual(gaps, []);
  // Re-sent by the server after its bus reconnected: the history it replays from is another.
  ws.deliver({ type: "subscribed", channel: "tasks", recovered: true, epoch: "e9" });
  assert.deepEqual(gaps, ["epoch_changed"]);
  ws.close(1006);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const again = ScriptedSocket.opened[1];
  again.open();
  again.deliver({ type: "subscribed", channel: "tasks", recovered: true, epoch: "e10" });
  assert.deepEqual(gaps, ["epoch_changed", "epoch_changed"]);
  socket.close();
});

test("a subscribed re-sent after the server's bus reconnected, not recovered, is a gap", async () => {
  const socket = await connected();
  const gaps = /** @type {string[]} */ ([]);
  socket.subscribe("tasks", { onEvent: () => {}, onGap: (g) => gaps.push(g.reason) });
  const ws = ScriptedSocket.opened[0];
  ws.deliver({ type: "subscribed", channel: "tasks", recovered: true, epoch: "e1" });
  assert.deepEqual(gaps, []); // a first subscribe without `since` has nothing to miss
  ws.deliver({ type: "subscribed", channel: "tasks", recovered: false, epoch: "e1" });
  assert.deepEqual(gaps, ["not_recovered"]);
  socket.close();
});

test("after a 1013 close the socket waits before it tries again", async () => {
  const socket = await connected({ tryAgainLaterMs: 200 });
  ScriptedSocket.opened[0].close(1013);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(ScriptedSocket.opened.length, 1, "no reconnect before tryAgainLaterMs");
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(ScriptedSocket.opened.length, 2);
  socket.close();
});

test("event ids compare by time, then sequence", () => {
  assert.ok(compareEventIds("9-5", "10-0") < 0);
  assert.ok(compareEventIds("10-2", "10-10") < 0);
  assert.equal(compareEventIds("10-1", "10-1"), 0);
});
