// Webhooks and sources: health per webhook (success rate, latency p50/p95, last event), recent
// events with live arrivals from the `webhooks` channel, knowledge sources and OAuth status.
import { badge, batched, count, h, percent, replace, when } from "./dom.js";

/** @param {import('./tasks.js').ViewContext} ctx */
export function webhooksView({ root, client, socket, fail }) {
  const health = h("tbody");
  const events = h("tbody");
  const sources = h("tbody");
  const oauth = h("tbody");
  const table = (/** @type {string[]} */ heads, /** @type {HTMLElement} */ body, /** @type {string} */ label) =>
    h("div", { class: "scroll" }, h("table", { "aria-label": label },
      h("thead", null, h("tr", null, heads.map((t) => h("th", { scope: "col" }, t)))), body));
  replace(
    root,
    h("h1", null, "Webhooks & sources"),
    h("h2", null, "Webhook health (last 7 days)"),
    table(["Webhook", "Provider", "Events", "Processed", "Failed", "Success", "p50", "p95", "Last event"], health, "Webhook health"),
    h("h2", null, "Recent events"),
    table(["Received", "Webhook", "Provider", "Type", "Status", "HTTP", "Latency", "Task"], events, "Recent webhook events"),
    h("h2", null, "Knowledge sources"),
    table(["Name", "Kind", "Reference", "Sync", "Last sync"], sources, "Knowledge sources"),
    h("h2", null, "OAuth installations"),
    table(["Platform", "Connected", "Account", "Installed", "Token expires"], oauth, "OAuth installations"),
  );

  /** @param {any} e */
  const eventRow = (e) => h("tr", { dataset: { eventId: e.event_id } },
    h("td", { class: "nowrap" }, when(e.created_at)), h("td", null, e.webhook_id), h("td", null, e.provider ?? "–"),
    h("td", null, e.event_type ?? "–"), h("td", null, badge(e.status)), h("td", { class: "num" }, e.http_status ?? "–"),
    h("td", { class: "num" }, e.latency_ms === null || e.latency_ms === undefined ? "–" : `${e.latency_ms} ms`),
    h("td", null, e.task_id ? h("a", { href: `#/tasks/${encodeURIComponent(e.task_id)}` }, "task") : "–"));

  async function load() {
    const from = new Date(Date.now() - 7 * 86_400_000).toISOString();
    try {
      const [stats, recent, sourceList, oauthList] = await Promise.all([
        client.webhookStats({ from }),
        client.webhookEvents({ limit: 50 }),
        client.sources(),
        client.oauthStatus(),
      ]);
      replace(health, stats.items.map((/** @type {any} */ s) => h("tr", null,
        h("th", { scope: "row" }, s.webhook_id), h("td", null, s.provider ?? "–"), h("td", { class: "num" }, count(s.total)),
        h("td", { class: "num" }, count(s.processed)), h("td", { class: "num" }, count(s.failed)),
        h("td", { class: "num" }, percent(s.success_rate)),
        h("td", { class: "num" }, s.latency_p50_ms === null ? "–" : `${s.latency_p50_ms} ms`),
        h("td", { class: "num" }, s.latency_p95_ms === null ? "–" : `${s.latency_p95_ms} ms`),
        h("td", { class: "nowrap" }, when(s.last_received_at)))));
      replace(events, recent.items.map(eventRow));
      replace(sources, sourceList.items.map((/** @type {any} */ s) => h("tr", null,
        h("th", { scope: "row" }, s.name), h("td", null, s.kind), h("td", null, s.external_ref),
        h("td", null, badge(s.sync_status ?? s.last_sync?.status ?? "never")), h("td", { class: "nowrap" }, when(s.last_sync?.finished_at ?? s.last_sync?.requested_at)))));
      replace(oauth, oauthList.items.map((/** @type {any} */ o) => h("tr", null,
        h("th", { scope: "row" }, o.platform), h("td", null, badge(o.connected ? "connected" : "not_connected")),
        h("td", null, o.account ?? "–"), h("td", { class: "nowrap" }, when(o.installed_at)), h("td", { class: "nowrap" }, when(o.token_expires_at)))));
    } catch (error) {
      fail(error);
    }
  }

  const arrive = batched((/** @type {any[]} */ batch) => {
    for (const event of batch) {
      if (event.type !== "webhook_event") continue;
      const row = eventRow(event);
      row.classList.add("flash");
      const known = events.querySelector(`tr[data-event-id="${CSS.escape(event.event_id)}"]`);
      if (known) known.replaceWith(row);
      else events.prepend(row);
    }
    while (events.children.length > 200) events.lastElementChild?.remove();
  });
  const unsubscribe = socket.subscribe("webhooks", { onEvent: arrive, onGap: () => load() });
  load();
  return unsubscribe;
}
