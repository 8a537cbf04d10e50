// The real things the tests run against: a private redis-server and the service's own process
// (`python -m dashboard_api run`), on free ports, in a temporary directory.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const PYTHON = process.env.PYTHON ?? path.resolve(here, "../../../.venv/bin/python");
export const ENGINE = path.join(here, "fixtures/stream_engine.py");

/** @returns {Promise<number>} */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
    server.on("error", reject);
  });
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @param {() => boolean | Promise<boolean>} check @param {number} timeoutMs @param {string} what */
export async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** @param {import('node:child_process').ChildProcess} child */
function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", resolve);
  });
}

export class Stack {
  /** @param {Record<string, string>} [env] settings of the server (DASHBOARD_...) */
  constructor(env = {}) {
    this.env = env;
  }

  async start() {
    this.dir = mkdtempSync(path.join(tmpdir(), "dashboard-js-"));
    this.redisPort = await freePort();
    this.redis = spawn(
      "redis-server",
      ["--port", String(this.redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    this.redisUrl = `redis://127.0.0.1:${this.redisPort}/0`;
    this.port = await freePort();
    this.baseUrl = `http://127.0.0.1:${this.port}`;
    await this.startServer();
    return this;
  }

  async startServer() {
    this.server = spawn(PYTHON, ["-m", "dashboard_api", "run", "--port", String(this.port)], {
      env: {
        ...process.env,
        DASHBOARD_DATABASE_URL: `sqlite+aiosqlite:///${this.dir}/dashboard.db`,
        DASHBOARD_REDIS_URL: this.redisUrl,
        DASHBOARD_LOG_LEVEL: "warning",
        ...this.env,
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    await waitFor(async () => {
      try {
        return (await fetch(`${this.baseUrl}/ready`)).ok;
      } catch {
        return false;
      }
    }, 90_000, "the server to be ready"); // start-up can take 30 s on a loaded machine
  }

  /** SIGTERM, as an orchestrator sends, then wait for the exit. */
  async stopServer() {
    if (!this.server) return;
    this.server.kill("SIGTERM");
    await exited(this.server);
  }

  /** @param {string} taskId @param {number} count @param {number} rate */
  engine(taskId, count, rate) {
    const child = spawn(PYTHON, [ENGINE, this.redisUrl, taskId, String(count), String(rate)], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    return exited(child);
  }

  async stop() {
    await this.stopServer();
    this.redis?.kill("SIGTERM");
    if (this.redis) await exited(this.redis);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
