// What every browser test file starts with: one server (the chat server,
// or the axum example with `{ host: true }`) and one headless Chromium,
// started before the file's tests and stopped after them.
import { after, before } from "node:test";
import { launch } from "./browser.js";
import { Server } from "./server.js";

/** The file's server and browser (the browser once `before` has run). */
export function serverAndBrowser(options = {}) {
  const suite = { server: new Server(options), browser: null };
  before(async () => {
    await suite.server.start();
    suite.browser = await launch();
  });
  after(async () => {
    await suite.browser?.close();
    await suite.server.dispose();
  });
  return suite;
}
