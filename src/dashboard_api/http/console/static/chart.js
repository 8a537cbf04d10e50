// A stacked bar chart in plain SVG: one bar per bucket, one colour per group. Small on purpose
// (see docs/console.md): the histogram is the only chart the console needs.

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"];

/** @param {string} tag @param {Record<string, string | number>} attrs */
function svg(tag, attrs) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  return element;
}

/**
 * @param {{ label: string, stack: { group: string, value: number }[], title: string }[]} bars
 * @param {{ height?: number, format: (v: number) => string }} options
 * @returns {{ chart: SVGSVGElement, legend: string[] }}
 */
export function stackedBars(bars, { height = 220, format }) {
  const width = 720;
  const pad = { top: 10, right: 10, bottom: 24, left: 56 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = Math.max(0, ...bars.map((b) => b.stack.reduce((sum, s) => sum + s.value, 0))) || 1;
  const groups = [...new Set(bars.flatMap((b) => b.stack.map((s) => s.group)))];
  const colour = (/** @type {string} */ g) => COLOURS[groups.indexOf(g) % COLOURS.length];
  const chart = /** @type {SVGSVGElement} */ (svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    class: "chart",
    role: "img",
  }));
  for (const fraction of [0, 0.5, 1]) {
    const y = pad.top + plotH * (1 - fraction);
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
    const tick = svg("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end", class: "tick" });
    tick.textContent = format(max * fraction);
    chart.append(tick);
  }
  const step = plotW / Math.max(1, bars.length);
  const barW = Math.max(1, step * 0.8);
  bars.forEach((bar, index) => {
    const x = pad.left + index * step + (step - barW) / 2;
    let y = pad.top + plotH;
    const group = svg("g", { class: "bar", tabindex: 0, "aria-label": bar.title });
    const tip = svg("title", {});
    tip.textContent = bar.title;
    group.append(tip);
    for (const part of bar.stack) {
      const h = (part.value / max) * plotH;
      if (h <= 0) continue;
      y -= h;
      group.append(svg("rect", { x, y, width: barW, height: h, fill: colour(part.group) }));
    }
    chart.append(group);
    const every = Math.ceil(bars.length / 8);
    if (index % every === 0) {
      const label = svg("text", { x: x + barW / 2, y: height - 6, "text-anchor": "middle", class: "tick" });
      label.textContent = bar.label;
      chart.append(label);
    }
  });
  return { chart, legend: groups.map((g) => colour(g) + " " + g) };
}
