// Tasks: the live list (filters, newest first, rows change in place from the `tasks` channel,
// keyset "load more") and one task's detail with its output streaming from `task:{id}`.
import { badge, batched, count, h, money, problemText, replace, seconds, when } from "./dom.js";

const STATUSES = ["queued", "running", "waiting_input", "completed", "failed", "cancelled"];
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const PAGE = 50;
// Live arrivals beyond this many rows push the oldest out (the page's memory stays flat under
// a busy engine); "Load more" then starts again from the newest page.
const MAX_ROWS = 500;

/** @typedef {{ root: HTMLElement, client: import('./dashboard-client.js').DashboardClient, socket: import('./dashboard-client.js').DashboardSocket, param?: string, fail: (e: any) => void }} ViewContext */

/** @param {ViewContext} ctx */
export function tasksView({ root, client, socket, fail }) {
  const params = new URLSearchParams(location.search);
  const filters = { status: "", agent_type: "", source: "", q: params.get("q") ?? "" };
  /** @type {Map<string, { row: HTMLTableRowElement, task: any }>} */
  const rows = new Map();
  let cursor = /** @type {string | null} */ (null);
  let generation = 0;

  const body = h("tbody");
  const more = h("button", { type: "button", onclick: () => load(false) }, "Load more");
  const empty = h("p", { class: "muted", hidden: true }, "No task matches these filters.");
  const trimmed = h("p", { class: "muted small", hidden: true }, `Showing the newest ${MAX_ROWS} tasks. `,
    h("button", { type: "button", onclick: () => load(true) }, "Reload the list"));
  const agents = h("datalist", { id: "agent-types" });
  const form = h(
    "form",
    { class: "filters", role: "search", onsubmit: (/** @type {Event} */ e) => e.preventDefault() },
    h("label", null, "Status ", h("select", { name: "status" }, h("option", { value: "" }, "any"),
      STATUSES.map((s) => h("option", { value: s }, s.replace("_", " "))))),
    h("label", null, "Agent type ", h("input", { name: "agent_type", list: "agent-types", size: 12 })),
    h("label", null, "Source ", h("input", { name: "source", size: 10, placeholder: "api, github…" })),
    h("label", null, "Text ", h("input", { name: "q", type: "search", value: filters.q, placeholder: "in the input" })),
    agents,
  );
  form.addEventListener("input", debounce(() => {
    const data = new FormData(/** @type {HTMLFormElement} */ (form));
    for (const key of Object.keys(filters)) {
      /** @type {any} */ (filters)[key] = String(data.get(key) ?? "").trim();
    }
    load(true);
  }, 250));

  replace(
    root,
    h("h1", null, "Tasks"),
    form,
    h("div", { class: "scroll" }, h("table", { class: "tasks" },
      h("thead", null, h("tr", null, ["Created", "Status", "Agent", "Source", "Input", "Cost", "Tokens"].map((t) => h("th", { scope: "col" }, t)))),
      body)),
    empty,
    more,
    trimmed,
  );

  client.agents().then((list) => replace(agents, list.items.map((a) => h("option", { value: a.agent_type }))), fail);

  /** @param {boolean} reset */
  async function load(reset) {
    const mine = reset ? ++generation : generation;
    try {
      const page = await client.listTasks({
        status: filters.status ? [/** @type {any} */ (filters.status)] : undefined,
        agent_type: filters.agent_type || undefined,
        source: filters.source || undefined,
        q: filters.q || undefined,
        limit: PAGE,
        cursor: reset ? undefined : cursor,
      });
      if (mine !== generation) return; // the filters changed meanwhile
      if (reset) {
        rows.clear();
        body.replaceChildren();
        trimmed.hidden = true;
      }
      for (const task of page.items) upsert(task, false);
      cursor = page.next_cursor ?? null;
      more.hidden = !cursor;
      empty.hidden = rows.size > 0;
    } catch (error) {
      fail(error);
    }
  }

  /** @param {any} task */
  function matches(task) {
    if (filters.status && task.status !== filters.status) return false;
    if (filters.agent_type && task.agent_type !== filters.agent_type) return false;
    if (filters.source && task.source !== filters.source) return false;
    if (filters.q && !String(task.input_preview ?? "").toLowerCase().includes(filters.q.toLowerCase())) return false;
    return true;
  }

  /** @param {any} task @param {boolean} live */
  function upsert(task, live) {
    const known = rows.get(task.task_id);
    if (known) {
      if (task.version !== undefined && known.task.version !== undefined && task.version <= known.task.version) return;
      const merged = { ...known.task, ...task };
      if (live && !matches(merged)) {
        known.row.remove();
        rows.delete(task.task_id);
        return;
      }
      updateRow(known.row, merged); // in place: no new nodes, no garbage per event
      known.task = merged;
      return;
    }
    if (live && !matches(task)) return;
    const row = renderRow(task);
    rows.set(task.task_id, { row, task });
    if (!live) {
      body.append(row);
      return;
    }
    // Newest first: a live task goes before the first row created before it (almost always
    // the top row, checked first: no walk through the list per event).
    const top = /** @type {HTMLElement | null} */ (body.firstElementChild);
    const topTask = top ? rows.get(top.dataset.taskId ?? "")?.task : undefined;
    const later = !topTask || topTask.created_at <= task.created_at
      ? (top ? { row: top } : undefined)
      : [...rows.values()].find((r) => r.row.isConnected && r.task.created_at < task.created_at);
    if (later) body.insertBefore(row, later.row);
    else if (!cursor) body.append(row);
    else rows.delete(task.task_id); // older than the loaded pages: "load more" will bring it
    if (live && flash) row.classList.add("flash");
    empty.hidden = rows.size > 0;
    if (rows.size > MAX_ROWS) trim();
  }

  function trim() {
    while (rows.size > MAX_ROWS && body.lastElementChild) {
      const last = /** @type {HTMLElement} */ (body.lastElementChild);
      rows.delete(last.dataset.taskId ?? "");
      last.remove();
    }
    cursor = null; // the keyset position was among the rows let go
    more.hidden = true;
    trimmed.hidden = false;
  }

  // A new row flashes, unless they arrive in bursts (then the animation would only cost).
  let flash = true;
  const onEvents = batched(async (/** @type {any[]} */ events) => {
    flash = events.length < 4;
    for (const event of events) {
      if (event.type !== "task_status") continue;
      if (rows.has(event.task_id) || "input_preview" in event) {
        upsert(event, true);
        continue;
      }
      // A server whose live events lack the list-row fields: one lookup per new task.
      try {
        const task = await client.getTask(event.task_id);
        upsert({ ...task, input_preview: (task.input_message ?? "").slice(0, 200), version: event.version }, true);
      } catch (error) {
        fail(error);
      }
    }
  });

  const unsubscribe = socket.subscribe("tasks", {
    onEvent: onEvents,
    onGap: () => load(true), // missed events: the list is re-read
  });
  load(true);
  return unsubscribe;
}

/** @param {any} task */
function renderRow(task) {
  const link = h("a", { href: `#/tasks/${encodeURIComponent(task.task_id)}` }, task.input_preview || task.task_id);
  return /** @type {HTMLTableRowElement} */ (h("tr", { dataset: { taskId: task.task_id } },
    h("td", { class: "nowrap" }, when(task.created_at)),
    h("td", null, badge(task.status)),
    h("td", null, task.agent_type),
    h("td", null, task.source ?? "–"),
    h("td", { class: "preview" }, link),
    h("td", { class: "num" }, money(task.cost_usd)),
    h("td", { class: "num" }, count((task.input_tokens ?? 0) + (task.output_tokens ?? 0))),
  ));
}

/** The cells a status change touches. @param {HTMLTableRowElement} row @param {any} task */
function updateRow(row, task) {
  const cells = row.cells;
  const status = /** @type {HTMLElement} */ (cells[1].firstElementChild);
  if (status.textContent !== task.status.replace("_", " ")) {
    status.textContent = task.status.replace("_", " ");
    status.className = `badge ${task.status}`;
  }
  cells[5].textContent = money(task.cost_usd);
  cells[6].textContent = count((task.input_tokens ?? 0) + (task.output_tokens ?? 0));
}

/** @param {ViewContext} ctx */
export function taskDetailView({ root, client, socket, param, fail }) {
  const taskId = /** @type {string} */ (param);
  const facts = h("dl", { class: "facts" });
  const output = h("pre", { class: "output", "aria-label": "Output", tabindex: 0 });
  const final = h("section", { hidden: true }, h("h2", null, "Final output"), h("pre", { class: "output" }));
  const input = h("pre", { class: "input" });
  const stop = h("button", { type: "button", class: "danger", hidden: true, onclick: stopTask }, "Stop task");
  const title = h("h1", null, "Task ", h("code", null, taskId));
  let streamed = 0;
  const streamedText = document.createTextNode("");
  output.append(streamedText);
  /** @type {any} */
  let task = null;

  replace(
    root,
    h("p", null, h("a", { href: "#/tasks" }, "← All tasks")),
    title,
    stop,
    facts,
    h("h2", null, "Input"),
    input,
    h("h2", null, "Output ", h("span", { class: "muted small", id: "stream-state" }, "")),
    output,
    final,
  );

  async function refresh() {
    try {
      task = await client.getTask(taskId);
      render();
    } catch (error) {
      fail(error);
    }
  }

  function render() {
    if (!task) return;
    input.textContent = task.input_message ?? "";
    stop.hidden = TERMINAL.has(task.status);
    const tokens = `${count(task.input_tokens)} in · ${count(task.output_tokens)} out · ${count(task.cache_read_tokens)} cache read · ${count(task.cache_write_tokens)} cache write`;
    const pairs = [
      ["Status", badge(task.status)],
      ["Agent", `${task.agent_type}${task.assigned_agent ? ` (${task.assigned_agent})` : ""}`],
      ["Model", task.model ?? "–"],
      ["Source", task.source ?? "–"],
      ["Cost", money(task.cost_usd)],
      ["Tokens", tokens],
      ["Created", when(task.created_at)],
      ["Started", when(task.started_at)],
      ["Completed", when(task.completed_at)],
      ["Duration", seconds(task.duration_seconds)],
      ["Run time", seconds(task.run_seconds)],
    ];
    if (task.conversation_id) pairs.push(["Conversation", h("a", { href: `#/chat/${encodeURIComponent(task.conversation_id)}` }, task.conversation_id)]);
    if (task.error) pairs.push(["Error", h("span", { class: "error-text" }, task.error)]);
    replace(facts, pairs.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
    const finalText = TERMINAL.has(task.status) ? task.output ?? "" : "";
    final.hidden = !finalText;
    /** @type {HTMLElement} */ (final.querySelector("pre")).textContent = finalText;
  }

  async function stopTask() {
    stop.setAttribute("disabled", "");
    try {
      await client.stopTask(taskId);
    } catch (error) {
      fail(error);
    } finally {
      stop.removeAttribute("disabled");
    }
  }

  const appendOutput = batched((/** @type {string[]} */ pieces) => {
    const atBottom = output.scrollTop + output.clientHeight >= output.scrollHeight - 4;
    streamedText.appendData(pieces.join("")); // one text node: the DOM does not grow per line
    streamed += pieces.length;
    if (atBottom) output.scrollTop = output.scrollHeight;
  });

  const unsubscribe = socket.subscribe(`task:${taskId}`, {
    since: "0-0", // the whole output still in the channel's history, then live
    onEvent(event) {
      if (event.type === "task_output") appendOutput(event.output);
      else if (event.type === "task_status") {
        if (task) {
          task = { ...task, ...event };
          render();
        }
        if (TERMINAL.has(event.status)) refresh(); // final figures: durations, output
      } else if (event.type === "stop_requested") {
        stop.textContent = "Stop requested";
      }
    },
    onGap: () => refresh(),
  });
  refresh();
  return unsubscribe;
}

/** @param {() => void} fn @param {number} ms */
function debounce(fn, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

export { problemText };
