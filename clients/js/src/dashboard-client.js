// Dashboard API client: typed REST calls and DashboardSocket, a /ws client that reconnects with
// backoff and resumes every channel from its last event id. Plain ES module, no dependencies:
// the same file runs in Node (>= 20) and, unchanged, in the service's browser console.
// Types are JSDoc, checked by `tsc`; REST shapes come from the generated OpenAPI types.

/** @typedef {import('./types').Get<'/api/tasks'>} TaskPage */
/** @typedef {import('./types').Get<'/api/tasks/{task_id}'>} Task */
/** @typedef {import('./types').Query<'/api/tasks'>} TaskQuery */
/** @typedef {import('./types').Body<'/api/tasks', 'post'>} NewTask */
/** @typedef {import('./types').Get<'/api/analytics/summary'>} Summary */
/** @typedef {import('./types').Query<'/api/analytics/summary'>} SummaryQuery */
/** @typedef {import('./types').Get<'/api/analytics/costs/histogram'>} Histogram */
/** @typedef {import('./types').Query<'/api/analytics/costs/histogram'>} HistogramQuery */
/** @typedef {import('./types').Get<'/api/analytics/performance'>} Performance */
/** @typedef {import('./types').Query<'/api/analytics/performance'>} PerformanceQuery */
/** @typedef {import('./types').Get<'/api/conversations'>} ConversationPage */
/** @typedef {import('./types').Query<'/api/conversations'>} ConversationQuery */
/** @typedef {import('./types').Body<'/api/conversations', 'post'>} NewConversation */
/** @typedef {import('./types').Post<'/api/conversations'>} Conversation */
/** @typedef {import('./types').Get<'/api/conversations/{conversation_id}/messages'>} MessagePage */
/** @typedef {import('./types').Post<'/api/conversations/{conversation_id}/messages'>} PostedMessage */
/** @typedef {import('./types').Body<'/api/conversations/{conversation_id}/messages', 'post'>} NewMessage */
/** @typedef {import('./types').Get<'/api/webhooks'>} Webhooks */
/** @typedef {import('./types').Get<'/api/webhooks/events'>} WebhookEventPage */
/** @typedef {import('./types').Query<'/api/webhooks/events'>} WebhookEventQuery */
/** @typedef {import('./types').Get<'/api/webhooks/stats'>} WebhookStats */
/** @typedef {import('./types').Get<'/api/sources'>} Sources */
/** @typedef {import('./types').Get<'/api/oauth/status'>} OAuthStatus */
/** @typedef {import('./types').Get<'/api/status'>} ServiceStatus */
/** @typedef {import('./types').Get<'/api/agents'>} Agents */

/** @typedef {Record<string, string | number | boolean | null | undefined | Array<string | number>>} QueryParams */

/** An answer that is not a 2xx: `problem` is the RFC 9457 body when there is one. */
export class ApiError extends Error {
  /** @param {number} status @param {any} problem */
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

/**
 * @typedef {object} ClientOptions
 * @property {string} [baseUrl] origin of the service ("" in a page it serves)
 * @property {string | null | (() => string | null)} [token] bearer secret, or a getter
 * @property {(error: ApiError) => void} [onUnauthorized] told of every 401
 * @property {typeof fetch} [fetch]
 */

export class DashboardClient {
  /** @param {ClientOptions} [options] */
  constructor(options = {}) {
    this.baseUrl = (options.baseUrl ?? "").replace(/\/$/, "");
    this._token = options.token ?? null;
    this._onUnauthorized = options.onUnauthorized;
    this._fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** @returns {string | null} */
  get token() {
    return typeof this._token === "function" ? this._token() : this._token;
  }

  /**
   * One call: JSON in, JSON out; a non-2xx answer throws ApiError.
   * @param {string} method @param {string} path
   * @param {{ query?: QueryParams, body?: unknown, signal?: AbortSignal }} [options]
   * @returns {Promise<any>}
   */
  async request(method, path, options = {}) {
    /** @type {Record<string, string>} */
    const headers = { accept: "application/json" };
    const token = this.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const response = await this._fetch(this.baseUrl + path + queryString(options.query), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
    const text = await response.text();
    const body = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = new ApiError(response.status, body);
      if (response.status === 401) this._onUnauthorized?.(error);
      throw error;
    }
    return body;
  }

  /** @param {TaskQuery} [query] @returns {Promise<TaskPage>} */
  listTasks(query) { return this.request("GET", "/api/tasks", { query: /** @type {QueryParams} */ (query) }); }
  /** @param {string} taskId @returns {Promise<Task>} */
  getTask(taskId) { return this.request("GET", `/api/tasks/${enc(taskId)}`); }
  /** @param {NewTask} task @returns {Promise<Task>} */
  createTask(task) { return this.request("POST", "/api/tasks", { body: task }); }
  /** @param {string} taskId @returns {Promise<Task>} */
  stopTask(taskId) { return this.request("POST", `/api/tasks/${enc(taskId)}/stop`); }
  /** @returns {Promise<Agents>} */
  agents() { return this.request("GET", "/api/agents"); }
  /** @returns {Promise<ServiceStatus>} */
  status() { return this.request("GET", "/api/status"); }
  /** @param {SummaryQuery} [query] @returns {Promise<Summary>} */
  summary(query) { return this.request("GET", "/api/analytics/summary", { query: /** @type {QueryParams} */ (query) }); }
  /** @param {HistogramQuery} [query] @returns {Promise<Histogram>} */
  costHistogram(query) { return this.request("GET", "/api/analytics/costs/histogram", { query: /** @type {QueryParams} */ (query) }); }
  /** @param {PerformanceQuery} [query] @returns {Promise<Performance>} */
  performance(query) { return this.request("GET", "/api/analytics/performance", { query: /** @type {QueryParams} */ (query) }); }
  /** @param {ConversationQuery} [query] @returns {Promise<ConversationPage>} */
  listConversations(query) { return this.request("GET", "/api/conversations", { query: /** @type {QueryParams} */ (query) }); }
  /** @param {NewConversation} conversation @returns {Promise<Conversation>} */
  createConversation(conversation) { return this.request("POST", "/api/conversations", { body: conversation }); }
  /** @param {string} conversationId @param {{ cursor?: string | null, limit?: number }} [query] @returns {Promise<MessagePage>} */
  messages(conversationId, query) {
    return this.request("GET", `/api/conversations/${enc(conversationId)}/messages`, { query });
  }
  /** @param {string} conversationId @param {NewMessage} message @returns {Promise<PostedMessage>} */
  postMessage(conversationId, message) {
    return this.request("POST", `/api/conversations/${enc(conversationId)}/messages`, { body: message });
  }
  /** @returns {Promise<Webhooks>} */
  webhooks() { return this.request("GET", "/api/webhooks"); }
  /** @param {WebhookEventQuery} [query] @returns {Promise<WebhookEventPage>} */
  webhookEvents(query) { return this.request("GET", "/api/webhooks/events", { query: /** @type {QueryParams} */ (query) }); }
  /** @param {QueryParams} [query] @returns {Promise<WebhookStats>} */
  webhookStats(query) { return this.request("GET", "/api/webhooks/stats", { query }); }
  /** @returns {Promise<Sources>} */
  sources() { return this.request("GET", "/api/sources"); }
  /** @returns {Promise<OAuthStatus>} */
  oauthStatus() { return this.request("GET", "/api/oauth/status"); }

  /**
   * How to authenticate the next WebSocket handshake: a single-use ticket from
   * `POST /api/realtime/tickets` (no secret in the URL); only where that route does not exist
   * (404: an older server) the token itself as `?token=`. Nothing when no token is set.
   * @returns {Promise<Record<string, string>>}
   */
  async socketAuth() {
    if (!this.token) return {};
    try {
      const answer = await this.request("POST", "/api/realtime/tickets");
      return { ticket: String(answer.ticket) };
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
        return { token: /** @type {string} */ (this.token) };
      }
      throw error;
    }
  }

  /**
   * A DashboardSocket on this service's /ws, authenticated like this client.
   * @param {Omit<SocketOptions, 'url' | 'auth'>} [options]
   */
  socket(options = {}) {
    const base = this.baseUrl || globalThis.location?.origin || "";
    return new DashboardSocket({
      ...options,
      url: base.replace(/^http/, "ws") + "/ws",
      auth: () => this.socketAuth(),
    });
  }
}

/** @param {string} value */
const enc = (value) => encodeURIComponent(value);

/** @param {QueryParams} [query] */
function queryString(query) {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** Event ids are "<millis>-<sequence>"; returns <0, 0, >0 like a comparator. @param {string} a @param {string} b */
export function compareEventIds(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am - bm || as - bs;
}

/**
 * @typedef {object} Subscription
 * @property {(event: any) => void} onEvent every event of the channel, once, in order
 * @property {(info: { recovered: boolean, epoch?: string | number, resumed: boolean }) => void} [onSubscribed]
 * @property {(info: { reason: 'not_recovered' | 'epoch_changed' }) => void} [onGap]
 *   continuity lost (history trimmed or lost): re-fetch over REST
 * @property {string | null} [since] start after this event id
 */

/**
 * @typedef {object} SocketOptions
 * @property {string} url ws:// or wss:// address of /ws
 * @property {() => Promise<Record<string, string>>} [auth] query parameters for each handshake
 * @property {number} [initialDelayMs] first reconnect delay (doubles up to maxDelayMs)
 * @property {number} [maxDelayMs]
 * @property {number} [tryAgainLaterMs] at least this long after a 1013 close (server overloaded)
 * @property {number} [handshakeTimeoutMs] a handshake not done by then is dropped and retried
 * @property {(state: 'connecting' | 'open' | 'closed') => void} [onState]
 * @property {(frame: any) => void} [onError] `error` frames of the protocol
 * @property {typeof WebSocket} [WebSocket]
 */

/** One socket, many channels; reconnects by itself until `close()`. */
export class DashboardSocket {
  /** @param {SocketOptions} options */
  constructor(options) {
    this.options = {
      initialDelayMs: 250,
      maxDelayMs: 10_000,
      tryAgainLaterMs: 5_000,
      handshakeTimeoutMs: 10_000,
      ...options,
    };
    /** @type {Map<string, { sub: Subscription, lastId: string | null, epoch: string | number | undefined, resumed: boolean, confirmed: boolean }>} */
    this.channels = new Map();
    /** @type {WebSocket | null} */
    this.ws = null;
    this.closed = false;
    this.attempts = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.connect();
  }

  /**
   * Subscribe `channel`; returns the function that unsubscribes it.
   * @param {string} channel @param {Subscription} sub
   */
  subscribe(channel, sub) {
    this.channels.set(channel, { sub, lastId: sub.since ?? null, epoch: undefined, resumed: false, confirmed: false });
    this.sendSubscribe(channel);
    return () => {
      this.channels.delete(channel);
      this.send({ type: "unsubscribe", channel });
    };
  }

  /** Stop for good: no reconnect. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close(1000);
  }

  /** @private */
  async connect() {
    if (this.closed) return;
    this.options.onState?.("connecting");
    let query = "";
    try {
      const params = (await this.options.auth?.()) ?? {};
      query = new URLSearchParams(params).toString();
    } catch {
      this.retry(false);
      return;
    }
    if (this.closed) return;
    const Impl = this.options.WebSocket ?? globalThis.WebSocket;
    const ws = new Impl(query ? `${this.options.url}?${query}` : this.options.url);
    this.ws = ws;
    ws.onopen = () => {
      clearTimeout(handshake);
      this.attempts = 0;
      this.options.onState?.("open");
      for (const channel of this.channels.keys()) this.sendSubscribe(channel);
    };
    ws.onmessage = (message) => this.receive(String(message.data));
    /** @param {number} code */
    const lost = (code) => {
      clearTimeout(handshake);
      if (this.ws !== ws) return;
      this.ws = null;
      this.options.onState?.("closed");
      this.retry(code === 1013);
    };
    ws.onclose = (event) => lost(event.code);
    // Some runtimes (Node 20's undici) report a refused handshake as an error and never close.
    ws.onerror = () => {
      if (ws.readyState !== 1) lost(1006);
    };
    // A handshake that hangs (a server going down with the connection half open) is dropped.
    const handshake = setTimeout(() => {
      if (ws.readyState === 0) {
        lost(1006);
        ws.close();
      }
    }, this.options.handshakeTimeoutMs);
  }

  /** Backoff with jitter; a 1013 ("try again later") waits at least tryAgainLaterMs. @private @param {boolean} overloaded */
  retry(overloaded) {
    if (this.closed) return;
    const { initialDelayMs, maxDelayMs, tryAgainLaterMs } = this.options;
    let delay = Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempts);
    delay = delay / 2 + Math.random() * (delay / 2);
    if (overloaded) delay = Math.max(delay, tryAgainLaterMs);
    this.attempts += 1;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** @private @param {string} channel */
  sendSubscribe(channel) {
    const state = this.channels.get(channel);
    if (!state) return;
    /** @type {Record<string, unknown>} */
    const frame = { type: "subscribe", channel };
    if (state.lastId) frame.since = state.lastId;
    if (state.epoch !== undefined) frame.epoch = state.epoch;
    state.resumed = Boolean(state.lastId);
    this.send(frame);
  }

  /** @private @param {unknown} frame */
  send(frame) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(frame));
  }

  /** @private @param {string} text */
  receive(text) {
    const frame = JSON.parse(text);
    if (frame.type === "error") {
      this.options.onError?.(frame);
      return;
    }
    const state = frame.channel ? this.channels.get(frame.channel) : undefined;
    if (!state) return;
    if (frame.type === "subscribed") {
      // A server without the field cannot say: a resume is taken as recovered.
      const recovered = frame.recovered ?? true;
      const epochChanged =
        state.epoch !== undefined && frame.epoch !== undefined && frame.epoch !== state.epoch;
      if (frame.epoch !== undefined) state.epoch = frame.epoch;
      state.sub.onSubscribed?.({ recovered, epoch: frame.epoch, resumed: state.resumed });
      // A resume, or a `subscribed` the server re-sends after its bus reconnected: either way
      // the caller has seen events before, and a gap means it must re-fetch over REST.
      if ((state.resumed || state.confirmed) && (!recovered || epochChanged)) {
        state.sub.onGap?.({ reason: recovered ? "epoch_changed" : "not_recovered" });
      }
      state.confirmed = true;
      return;
    }
    if (frame.type === "unsubscribed") return;
    if (typeof frame.id === "string") {
      // Replays may overlap what was already delivered (several resumes in a row): once only.
      if (state.lastId && compareEventIds(frame.id, state.lastId) <= 0) return;
      state.lastId = frame.id;
    }
    state.sub.onEvent(frame);
  }
}
