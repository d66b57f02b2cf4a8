// Headless Chromium (the system's, never a downloaded one) and the steps a
// person takes in the UI.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = resolve(fileURLToPath(import.meta.url), "..");
/** Where a failed test leaves its screenshots. */
export const artifacts = join(here, "../artifacts");

/** The browser binary: `CHROMIUM_PATH`, else Debian's. */
export const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

export async function launch() {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A person: their own browser context (cookies, tabs) and one page. */
export class Person {
  static async open(browser, server, name, options = {}) {
    const context = await browser.newContext({ baseURL: server.url, ...options });
    const page = await context.newPage();
    const dialogs = [];
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    return new Person(context, page, name, dialogs);
  }

  constructor(context, page, name, dialogs) {
    this.context = context;
    this.page = page;
    this.name = name;
    this.password = `correct horse ${name} battery`;
    /** Messages of every dialog (alert, confirm…) any page opened. */
    this.dialogs = dialogs;
  }

  /** Signs up through the form; ends on the chat page, logged in. */
  async signUp() {
    const page = this.page;
    await page.goto("/signup");
    await page.getByLabel("Email").fill(`${this.name}@example.com`);
    await page.getByLabel("Username").fill(this.name);
    await page.getByLabel("Password", { exact: true }).fill(this.password);
    await page.getByLabel("Password again").fill(this.password);
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL("**/chat/");
    await this.waitConnected();
  }

  /** Logs in through the form. */
  async logIn() {
    const page = this.page;
    await page.goto("/login");
    await page.getByLabel("Username").fill(this.name);
    await page.getByLabel("Password").fill(this.password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.waitForURL("**/chat/");
    await this.waitConnected();
  }

  /** Opens the conversation with `peer` and waits for the live connection. */
  async openConversation(peer) {
    await this.page.goto(`/chat/${peer}/`);
    await this.waitConnected();
  }

  /** Waits until the page's WebSocket is up (its `ready` frame arrived). */
  async waitConnected() {
    await this.page.locator("#app[data-connection='online']").waitFor();
  }

  /** Types `text` into the composer and presses Enter. */
  async send(text) {
    const box = this.page.getByRole("textbox", { name: /^Message to/ });
    await box.fill(text);
    await box.press("Enter");
  }

  /** The conversation list's entry for `peer`. */
  conversation(peer) {
    return this.page.locator(`#conversations li[data-user="${peer}"]`);
  }

  /** The message bubbles of the open conversation. */
  messages() {
    return this.page.locator("#messages li.message");
  }

  async screenshot(name) {
    mkdirSync(artifacts, { recursive: true });
    await this.page.screenshot({ path: join(artifacts, `${name}-${this.name}.png`), fullPage: true });
  }

  async close() {
    await this.context.close();
  }
}

let counter = 0;
/** A username no other test of this run uses. */
export function uniqueName(prefix) {
  counter += 1;
  return `${prefix}${process.pid % 10000}x${counter}`;
}
