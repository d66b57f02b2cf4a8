// The chat mounted in a host application (the axum example): people log
// in with the host's own form, and the whole UI (pages, script, API,
// WebSocket) works below /chat.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Person, uniqueName } from "../lib/browser.js";
import { serverAndBrowser } from "../lib/suite.js";

const suite = serverAndBrowser({ host: true });
const server = suite.server;

/** Logs in with the host's form; ends on the chat, connected. */
async function hostLogin(person) {
  const page = person.page;
  await page.goto("/");
  await page.locator("input[name=username]").fill(person.name);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL("**/chat/chat/");
  await person.waitConnected();
}

test("under the host's mount path, two of its users chat live", async (t) => {
  const alice = await Person.open(suite.browser, server, uniqueName("alice"));
  const bob = await Person.open(suite.browser, server, uniqueName("bob"));
  t.after(async () => {
    await alice.close();
    await bob.close();
  });
  await hostLogin(alice);
  await hostLogin(bob);

  await bob.page.goto(`/chat/chat/${alice.name}/`);
  await bob.waitConnected();
  await alice.page.goto(`/chat/chat/${bob.name}/`);
  await alice.waitConnected();
  await alice.send("hello from the host");
  await bob.messages().filter({ hasText: "hello from the host" }).waitFor();
  await bob.send("hello back");
  await alice.messages().filter({ hasText: "hello back" }).waitFor();

  // The sidebar links stay below the mount path, and a reload renders
  // the history there.
  const href = await alice.conversation(bob.name).locator("a").getAttribute("href");
  assert.equal(href, `/chat/chat/${bob.name}/`);
  await alice.page.reload();
  await alice.waitConnected();
  assert.deepEqual(
    await alice.page.locator("#messages li.message .text").allTextContents(),
    ["hello from the host", "hello back"],
  );
  assert.deepEqual(alice.dialogs, []);
});
