// Costs and performance: the cost histogram as a chart (hour/day, by agent type or model), the
// window's and today's totals, success rates and duration percentiles per agent. Figures are
// re-read when a task finishes (from the `tasks` channel), at most every few seconds.
import { stackedBars } from "./chart.js";
import { count, h, money, percent, replace, seconds } from "./dom.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

/** @param {import('./tasks.js').ViewContext} ctx */
export function costsView({ root, client, socket, fail }) {
  const settings = { granularity: "day", days: "30", group_by: "agent_type" };
  const cards = h("div", { class: "cards" });
  const chartBox = h("figure", { class: "chart-box" });
  const perfBody = h("tbody");
  const bucketsBody = h("tbody");
  const select = (/** @type {string} */ name, /** @type {[string, string][]} */ options) =>
    h("select", { name }, options.map(([value, text]) =>
      h("option", { value, selected: /** @type {any} */ (settings)[name] === value }, text)));
  const form = h("form", { class: "filters", onsubmit: (/** @type {Event} */ e) => e.preventDefault() },
    h("label", null, "Buckets ", select("granularity", [["day", "per day"], ["hour", "per hour"]])),
    h("label", null, "Window ", select("days", [["1", "1 day"], ["7", "7 days"], ["30", "30 days"]])),
    h("label", null, "By ", select("group_by", [["agent_type", "agent type"], ["model", "model"]])),
  );
  form.addEventListener("change", () => {
    const data = new FormData(/** @type {HTMLFormElement} */ (form));
    for (const key of Object.keys(settings)) /** @type {any} */ (settings)[key] = String(data.get(key));
    load();
  });

  replace(
    root,
    h("h1", null, "Costs & performance"),
    form,
    cards,
    h("h2", null, "Cost per bucket"),
    chartBox,
    h("details", null, h("summary", null, "Figures of the chart"),
      h("div", { class: "scroll" }, h("table", { class: "buckets" },
        h("thead", null, h("tr", null, ["Start", "Cost", "Tasks", "Tokens", "Errors"].map((t) => h("th", { scope: "col" }, t)))),
        bucketsBody))),
    h("h2", null, "Performance per agent"),
    h("div", { class: "scroll" }, h("table", { class: "performance" },
      h("thead", null, h("tr", null, ["Agent", "Tasks", "Success", "Finished success", "p50", "p95", "p99", "Avg tokens", "Cost / task", "Tasks / day"].map((t) => h("th", { scope: "col" }, t)))),
      perfBody)),
  );

  async function load() {
    const days = Number(settings.days);
    const from = new Date(Date.now() - days * 86_400_000).toISOString();
    try {
      const granularity = /** @type {"day" | "hour"} */ (settings.granularity);
      const [today, window, histogram, performance] = await Promise.all([
        client.summary(),
        client.summary({ from }),
        client.costHistogram({ granularity, days, group_by: /** @type {any} */ (settings.group_by) }),
        client.performance({ days }),
      ]);
      renderCards(today, window, days);
      renderChart(histogram, granularity);
      replace(perfBody, performance.items.map((/** @type {any} */ p) => h("tr", null,
        h("th", { scope: "row" }, p.agent_type), h("td", { class: "num" }, count(p.tasks)),
        h("td", { class: "num" }, percent(p.success_rate)), h("td", { class: "num" }, percent(p.finished_success_rate)),
        h("td", { class: "num" }, seconds(p.duration_p50_seconds)), h("td", { class: "num" }, seconds(p.duration_p95_seconds)),
        h("td", { class: "num" }, seconds(p.duration_p99_seconds)), h("td", { class: "num" }, count(Math.round(p.avg_tokens ?? 0))),
        h("td", { class: "num" }, money(p.cost_per_task_usd)), h("td", { class: "num" }, (p.tasks_per_day ?? 0).toFixed(1)))));
    } catch (error) {
      fail(error);
    }
  }

  /** @param {any} all @param {any} window @param {number} days */
  function renderCards(all, window, days) {
    const card = (/** @type {string} */ label, /** @type {string} */ value) =>
      h("div", { class: "card" }, h("span", { class: "label" }, label), h("strong", null, value));
    replace(cards,
      card("Cost today", money(all.today_cost_usd)),
      card("Tasks today", count(all.today_tasks)),
      card(`Cost, last ${days} d`, money(window.total_cost_usd)),
      card(`Tasks, last ${days} d`, count(window.total_tasks)),
      card("Success rate", percent(window.success_rate)),
      card("Finished success", percent(window.finished_success_rate)),
      card("Avg duration", seconds(window.avg_duration_seconds)),
      card("Cost, all time", money(all.total_cost_usd)),
    );
  }

  /** @param {any} histogram @param {string} granularity */
  function renderChart(histogram, granularity) {
    const label = (/** @type {string} */ start) => granularity === "day" ? start.slice(5, 10) : start.slice(11, 16);
    const bars = histogram.buckets.map((/** @type {any} */ b) => ({
      label: label(b.start),
      title: `${b.start.slice(0, granularity === "day" ? 10 : 16).replace("T", " ")}: ${money(b.cost_usd)}, ${b.tasks} tasks, ${b.errors} errors`,
      stack: Object.entries(b.groups ?? {}).map(([group, figures]) => ({ group, value: /** @type {any} */ (figures).cost_usd })),
    }));
    const { chart, legend } = stackedBars(bars, { format: money });
    replace(chartBox, chart, h("figcaption", { class: "legend" }, legend.map((entry) => {
      const [colour, ...name] = entry.split(" ");
      return h("span", null, h("i", { style: `background:${colour}` }), name.join(" "));
    })));
    replace(bucketsBody, histogram.buckets.map((/** @type {any} */ b) => h("tr", { dataset: { start: b.start } },
      h("td", null, b.start), h("td", { class: "num" }, money(b.cost_usd)), h("td", { class: "num" }, count(b.tasks)),
      h("td", { class: "num" }, count(b.tokens)), h("td", { class: "num" }, count(b.errors)))));
  }

  let pending = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);
  const unsubscribe = socket.subscribe("tasks", {
    onEvent(event) {
      if (event.type !== "task_status" || !TERMINAL.has(event.status) || pending) return;
      pending = setTimeout(() => {
        pending = undefined;
        load();
      }, 5_000);
    },
  });
  load();
  return () => {
    clearTimeout(pending);
    unsubscribe();
  };
}
