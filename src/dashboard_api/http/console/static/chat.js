// Conversations: the list, one conversation's messages (live from `conversation:{id}`), and a
// composer. While the agent works on an answer, its task's output streams in below the thread.
import { h, problemText, replace, when, money } from "./dom.js";

/** @param {import('./tasks.js').ViewContext} ctx */
export function chatView({ root, client, socket, param, fail }) {
  const list = h("ul", { class: "conversations" });
  const thread = h("section", { class: "thread", "aria-live": "polite" });
  const create = h("form", { class: "inline", onsubmit: startConversation },
    h("label", null, "Agent ", h("input", { name: "agent_type", required: true, size: 10, value: "assistant" })),
    h("label", null, "Title ", h("input", { name: "title", size: 16 })),
    h("button", { type: "submit" }, "New conversation"));
  replace(root, h("h1", null, "Conversations"), create,
    h("div", { class: "chat" }, h("nav", { "aria-label": "Conversations" }, list), thread));
  /** @type {(() => void)[]} */
  const cleanups = [];

  async function loadList() {
    try {
      const page = await client.listConversations({ limit: 100 });
      replace(list, page.items.map((/** @type {any} */ c) => h("li", null,
        h("a", { href: `#/chat/${encodeURIComponent(c.conversation_id)}`, "aria-current": c.conversation_id === param ? "page" : null },
          c.title || c.conversation_id, h("span", { class: "muted small" }, ` ${c.agent_type} · ${c.totals.messages} msgs · ${money(c.totals.cost_usd)}`)))));
      if (!page.items.length) list.append(h("li", { class: "muted" }, "No conversation yet."));
    } catch (error) {
      fail(error);
    }
  }

  /** @param {SubmitEvent} event */
  async function startConversation(event) {
    event.preventDefault();
    const data = new FormData(/** @type {HTMLFormElement} */ (event.target));
    try {
      const conversation = await client.createConversation({
        agent_type: String(data.get("agent_type")),
        title: String(data.get("title") ?? ""),
      });
      location.hash = `#/chat/${encodeURIComponent(conversation.conversation_id)}`;
    } catch (error) {
      fail(error);
    }
  }

  loadList();
  if (!param) {
    replace(thread, h("p", { class: "muted" }, "Pick a conversation, or start one."));
    return () => {};
  }
  const conversationId = param;
  const messages = h("ol", { class: "messages" });
  const working = h("div", { class: "working", hidden: true }, h("span", { class: "muted small" }, "agent is answering…"), h("pre", { class: "output" }));
  const input = h("textarea", { name: "content", rows: 3, required: true, placeholder: "Message (Ctrl+Enter sends)", "aria-label": "Message" });
  const composer = h("form", { class: "composer", onsubmit: send }, input, h("button", { type: "submit" }, "Send"));
  input.addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) composer.requestSubmit();
  });
  replace(thread, messages, working, composer);
  /** @type {Set<string>} */
  const shown = new Set();

  /** @param {any} message */
  function show(message) {
    if (shown.has(message.message_id)) return;
    shown.add(message.message_id);
    messages.append(h("li", { class: `message ${message.role}` },
      h("span", { class: "role" }, message.role), h("span", { class: "muted small" }, ` ${when(message.created_at)}`),
      h("div", { class: "content" }, message.content),
      message.task_id ? h("a", { class: "small", href: `#/tasks/${encodeURIComponent(message.task_id)}` }, "task") : null));
    if (message.role === "assistant") stopWatching();
    messages.lastElementChild?.scrollIntoView({ block: "nearest" });
  }

  /** @type {(() => void) | undefined} */
  let watching;
  /** @param {string} taskId */
  function watchTask(taskId) {
    stopWatching();
    const pre = /** @type {HTMLElement} */ (working.querySelector("pre"));
    pre.textContent = "";
    working.hidden = false;
    watching = socket.subscribe(`task:${taskId}`, {
      since: "0-0",
      onEvent(event) {
        if (event.type === "task_output") pre.append(event.output);
        if (event.type === "task_status" && (event.status === "failed" || event.status === "cancelled")) {
          pre.append(`\n[${event.status}${event.error ? `: ${event.error}` : ""}]`);
        }
      },
    });
  }
  function stopWatching() {
    watching?.();
    watching = undefined;
    working.hidden = true;
  }

  /** @param {SubmitEvent} event */
  async function send(event) {
    event.preventDefault();
    const content = /** @type {HTMLTextAreaElement} */ (input).value.trim();
    if (!content) return;
    try {
      const message = await client.postMessage(conversationId, { role: "user", content });
      /** @type {HTMLTextAreaElement} */ (input).value = "";
      show(message);
      if (message.task_id) watchTask(message.task_id);
    } catch (error) {
      fail(error);
    }
  }

  async function loadMessages() {
    try {
      let cursor = /** @type {string | null | undefined} */ (undefined);
      do {
        const page = await client.messages(conversationId, { limit: 200, cursor });
        page.items.forEach(show);
        cursor = page.next_cursor;
      } while (cursor);
    } catch (error) {
      replace(thread, h("p", { class: "error", role: "alert" }, problemText(error)));
    }
  }

  cleanups.push(socket.subscribe(`conversation:${conversationId}`, {
    onEvent: (event) => event.type === "message" && show(event),
    onGap: () => loadMessages(),
  }));
  loadMessages();
  return () => {
    stopWatching();
    cleanups.forEach((fn) => fn());
  };
}
