// Starts the real chat server (the `chat-server` binary) on a loopback
// port with a fresh SQLite database, and can restart it on the same port
// and database, as an operator would.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(import.meta.url), "../../..");

/** The server binary: `CHAT_SERVER_BIN`, else the debug build. */
export const serverBin = process.env.CHAT_SERVER_BIN || join(root, "target/debug/chat-server");

const STARTUP_TIMEOUT_MS = 30_000;

/** The axum example that mounts the chat under `/chat`. */
export const hostBin = process.env.CHAT_HOST_BIN || join(root, "target/debug/axum-host");

export class Server {
  /**
   * `sendRate`: messages per user per second (bursts of three seconds'
   * worth). `host`: run the axum example (the chat under `/chat`, behind
   * its own login) instead of the chat server.
   */
  constructor({ sendRate = 1000, host = false } = {}) {
    this.sendRate = sendRate;
    this.host = host;
    this.dir = mkdtempSync(join(tmpdir(), "chat-e2e-"));
    this.process = null;
    this.address = null;
    this.log = "";
  }

  /** The base URL, e.g. `http://127.0.0.1:41234`. */
  get url() {
    return `http://${this.address}`;
  }

  /** Starts the server; on the port it had before, if it ran before. */
  async start() {
    const listen = this.address || "127.0.0.1:0";
    this.log = "";
    const args = this.host ? [listen] : [
      "--listen", listen,
      "--database-url", `sqlite://${join(this.dir, "chat.db")}`,
      // Every test signs up and in from 127.0.0.1; the per-address limits
      // are for people, not for a test suite.
      "--login-client-burst", "1000",
      "--signup-burst", "1000",
      "--send-rate", String(this.sendRate),
      "--log", "info",
    ];
    const child = spawn(this.host ? hostBin : serverBin, args, { stdio: ["ignore", "ignore", "pipe"] });
    this.process = child;
    child.stderr.setEncoding("utf8");
    this.address = await new Promise((resolveAddress, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the server did not start within ${STARTUP_TIMEOUT_MS} ms:\n${this.log}`)),
        STARTUP_TIMEOUT_MS,
      );
      child.stderr.on("data", (chunk) => {
        this.log += chunk;
        const found = /listening; open http:\/\/([0-9.]+:[0-9]+)\//.exec(this.log);
        if (found) {
          clearTimeout(timer);
          resolveAddress(found[1]);
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the server exited with ${code}:\n${this.log}`));
      });
    });
  }

  /** Stops the server and waits for it to exit. */
  async stop() {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((done) => child.once("exit", done));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    this.process = null;
  }

  /** Stops the server and deletes its database. */
  async dispose() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
