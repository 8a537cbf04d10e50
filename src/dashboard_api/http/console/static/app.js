// The console's shell: one API client and one socket for the whole page, a hash router that
// mounts one view at a time (each view returns its clean-up), and the token prompt.
import { DashboardClient } from "./dashboard-client.js";
import { h, replace, problemText } from "./dom.js";
import { taskDetailView, tasksView } from "./tasks.js";
import { costsView } from "./costs.js";
import { chatView } from "./chat.js";
import { webhooksView } from "./webhooks.js";

const TOKEN_KEY = "dashboard-api-token";
const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const live = /** @type {HTMLElement} */ (document.getElementById("live"));
const dialog = /** @type {HTMLDialogElement} */ (document.getElementById("token-dialog"));

const client = new DashboardClient({
  token: () => sessionStorage.getItem(TOKEN_KEY),
  onUnauthorized: () => askForToken(),
});
let socket = openSocket();

function openSocket() {
  return client.socket({
    onState(state) {
      live.textContent = state === "open" ? "● live" : state === "connecting" ? "connecting…" : "reconnecting…";
      live.className = `live ${state}`;
    },
  });
}

function askForToken() {
  if (dialog.open) return;
  dialog.showModal();
}

dialog.addEventListener("close", () => {
  const input = /** @type {HTMLInputElement} */ (document.getElementById("token-input"));
  if (!input.value) return;
  sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = "";
  socket.close();
  socket = openSocket();
  route();
});

/** @type {(() => void) | undefined} */
let unmount;

const ROUTES = [
  { pattern: /^#\/tasks\/(.+)$/, section: "tasks", view: taskDetailView },
  { pattern: /^#\/tasks$/, section: "tasks", view: tasksView },
  { pattern: /^#\/costs$/, section: "costs", view: costsView },
  { pattern: /^#\/chat(?:\/(.+))?$/, section: "chat", view: chatView },
  { pattern: /^#\/webhooks$/, section: "webhooks", view: webhooksView },
];

function route() {
  unmount?.();
  unmount = undefined;
  const hash = location.hash || "#/tasks";
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(hash) })).find((x) => x.m);
  if (!match) {
    location.hash = "#/tasks";
    return;
  }
  for (const link of document.querySelectorAll("nav a")) {
    link.toggleAttribute("aria-current", link.getAttribute("data-section") === match.r.section);
  }
  const param = match.m?.[1] ? decodeURIComponent(match.m[1]) : undefined;
  replace(main);
  try {
    unmount = match.r.view({ root: main, client, socket, param, fail });
  } catch (error) {
    fail(error);
  }
}

/** Shows an error at the top of the view (a 401 has already opened the token prompt). @param {any} error */
function fail(error) {
  if (error?.status === 401) return;
  console.warn(error);
  main.prepend(h("p", { class: "error", role: "alert" }, problemText(error)));
}

async function serviceStatus() {
  const target = /** @type {HTMLElement} */ (document.getElementById("service"));
  try {
    const status = await client.status();
    target.textContent = `v${status.version} · ${status.tasks.queued} queued · ${status.tasks.running} running`;
  } catch {
    target.textContent = "";
  }
}

window.addEventListener("hashchange", route);
route();
serviceStatus();
setInterval(serviceStatus, 15_000);
