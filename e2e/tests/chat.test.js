// The web UI in headless Chromium against the real server on loopback:
// what two people see while they chat.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Person, uniqueName } from "../lib/browser.js";
import { Server } from "../lib/server.js";
import { serverAndBrowser } from "../lib/suite.js";
import { api } from "../lib/api.js";

const suite = serverAndBrowser();
const server = suite.server;

// Two people, each in a browser context of their own, signed up through
// the form (on the shared server unless told otherwise; Alice's name and
// browser options can be chosen).
async function pair(t, on = server, { aliceName = "alice", aliceBrowser = {} } = {}) {
  const alice = await Person.open(suite.browser, on, uniqueName(aliceName), aliceBrowser);
  const bob = await Person.open(suite.browser, on, uniqueName("bob"));
  t.after(async () => {
    await alice.close();
    await bob.close();
  });
  await alice.signUp();
  await bob.signUp();
  return { alice, bob };
}

/** Screenshots every open page into e2e/artifacts when `body` throws, then
 * rethrows. */
async function capturing(name, persons, body) {
  try {
    await body();
  } catch (error) {
    for (const person of persons) await person.screenshot(name).catch(() => {});
    throw error;
  }
}

test("a message reaches the other person live, with unread badge and read marks once both have written", async (t) => {
  const { alice, bob } = await pair(t);
  await capturing("live-message", [alice, bob], async () => {
    await alice.openConversation(bob.name);
    await alice.send("hello bob");
    const sent = alice.messages().last();
    await sent.locator(".text", { hasText: "hello bob" }).waitFor();
    await sent.and(alice.page.locator("[data-status='sent']")).waitFor();

    // Bob, on the conversation list, sees it arrive without reloading.
    const entry = bob.conversation(alice.name);
    await entry.waitFor();
    await entry.locator(".preview", { hasText: "hello bob" }).waitFor();
    await entry.locator(".unread:not([hidden])", { hasText: "1" }).waitFor();

    // He opens it: the badge goes. Alice is not told that he read it: he
    // has not written to her, and a read mark says when he was here.
    await entry.locator("a").click();
    await bob.waitConnected();
    await bob.messages().filter({ hasText: "hello bob" }).waitFor();
    await bob.conversation(alice.name).locator(".unread[hidden]").waitFor({ state: "attached" });

    // He answers: with the conversation open on both sides, replies appear
    // live.
    await bob.send("hi alice");
    await alice.messages().filter({ hasText: "hi alice" }).waitFor();
    await alice.conversation(bob.name).locator(".preview", { hasText: "hi alice" }).waitFor();
    assert.equal(await alice.messages().filter({ hasText: "hi alice" }).count(), 1);
    // Both have written now: Alice's reading reaches Bob live ...
    const reply = bob.messages().filter({ hasText: "hi alice" });
    await reply.and(bob.page.locator("[data-status='read']")).waitFor();
    // ... and Bob's earlier read mark shows when Alice reloads.
    await alice.openConversation(bob.name);
    await alice.messages().filter({ hasText: "hello bob" }).and(alice.page.locator("[data-status='read']")).waitFor();
  });
});

test("unread counts follow the user across tabs", async (t) => {
  const { alice, bob } = await pair(t);
  await capturing("tabs", [alice, bob], async () => {
    const other = await bob.context.newPage();
    await other.goto("/chat/");
    await other.locator("#app[data-connection='online']").waitFor();
    const token = await api.login(server, alice);
    await api.send(server, token, bob.name, "one");
    await api.send(server, token, bob.name, "two");
    for (const page of [bob.page, other]) {
      await page.locator(`#conversations li[data-user="${alice.name}"] .unread:not([hidden])`, { hasText: "2" }).waitFor();
    }
    // Reading in one tab clears the badge in the other.
    await bob.openConversation(alice.name);
    await other.locator(`#conversations li[data-user="${alice.name}"] .unread[hidden]`).waitFor({ state: "attached" });
  });
});

test("the typing indicator shows and clears by itself", async (t) => {
  const { alice, bob } = await pair(t);
  await capturing("typing", [alice, bob], async () => {
    // Typing shows only between people who have both written in the
    // conversation.
    await alice.openConversation(bob.name);
    await alice.send("hi bob");
    await bob.openConversation(alice.name);
    await bob.send("hi alice");
    await alice.messages().last().locator(".text", { hasText: "hi alice" }).waitFor();
    await alice.page.getByRole("textbox", { name: /^Message to/ }).pressSequentially("hel");
    const typing = bob.page.locator("#typing");
    await typing.getByText(`${alice.name} is typing…`).waitFor();
    await typing.getByText("is typing").waitFor({ state: "detached", timeout: 10_000 });
  });
});

test("a hostile message is shown as text and runs nothing", async (t) => {
  const { alice, bob } = await pair(t);
  const hostile = "<img src=x onerror=alert(1)><script>alert(2)</script>";
  await capturing("hostile", [alice, bob], async () => {
    await alice.openConversation(bob.name);
    await alice.send(hostile);
    await alice.messages().filter({ hasText: hostile }).waitFor();
    await bob.conversation(alice.name).locator(".preview").waitFor();
    assert.equal(await bob.conversation(alice.name).locator(".preview").textContent(), hostile.slice(0, 60));

    // Live, after a reload (server-rendered), and in the server's search page.
    await bob.openConversation(alice.name);
    await bob.messages().filter({ hasText: hostile }).waitFor();
    await bob.page.goto(`/chat/${alice.name}/?search=${encodeURIComponent("onerror")}`);
    await bob.messages().filter({ hasText: hostile }).waitFor();
    for (const person of [alice, bob]) {
      assert.equal(await person.page.locator("#messages img, #messages script, #conversations img").count(), 0);
      assert.deepEqual(person.dialogs, []);
    }
  });
});

test("search filters and highlights, and leads back to the conversation", async (t) => {
  const { alice, bob } = await pair(t);
  const token = await api.login(server, alice);
  for (const text of ["the blue whale", "a red fox", "Blue skies", "green tea"]) {
    await api.send(server, token, bob.name, text);
  }
  await capturing("search", [alice, bob], async () => {
    await bob.openConversation(alice.name);
    await bob.messages().filter({ hasText: "green tea" }).waitFor();
    await bob.page.getByRole("searchbox", { name: "Search this conversation" }).fill("blue");
    const results = bob.page.locator("#results li.message");
    await bob.page.locator("#results:not([hidden])").waitFor();
    await bob.page.locator("#search-note", { hasText: "2 messages" }).waitFor();
    assert.deepEqual(await results.locator(".text").allTextContents(), ["the blue whale", "Blue skies"]);
    assert.deepEqual(await results.locator("mark").allTextContents(), ["blue", "Blue"]);
    assert.equal(await bob.page.locator("#messages").isHidden(), true);

    await bob.page.getByRole("button", { name: "Back to the conversation" }).click();
    await bob.page.locator("#messages").waitFor();
    assert.equal(await bob.messages().count(), 4);
  });
});

test("scrolling up loads older pages and keeps the reader's place", async (t) => {
  const { alice, bob } = await pair(t);
  const token = await api.login(server, alice);
  for (let i = 1; i <= 130; i += 1) await api.send(server, token, bob.name, `numbered ${i}`);
  await capturing("paging", [alice, bob], async () => {
    await bob.openConversation(alice.name);
    await bob.messages().filter({ hasText: "numbered 130" }).waitFor();
    const first = await bob.messages().count();
    assert.ok(first < 130, `the first page holds ${first} messages, not all`);

    for (let pages = 0; pages < 5 && (await bob.messages().count()) < 130; pages += 1) {
      const oldest = bob.messages().first();
      const oldestText = await oldest.locator(".text").textContent();
      // Counted before scrolling: a page may load before a count taken
      // after the scroll could be.
      const shown = await bob.messages().count();
      await bob.page.locator("#messages").evaluate((list) => { list.scrollTop = 0; });
      await bob.page.waitForFunction((count) => document.querySelectorAll("#messages li.message").length > count, shown);
      // The message that was at the top is still in view, not pushed away.
      const stillThere = bob.messages().filter({ has: bob.page.locator(".text", { hasText: new RegExp(`^${oldestText}$`) }) });
      assert.equal(await stillThere.isVisible(), true);
      const box = await stillThere.boundingBox();
      const list = await bob.page.locator("#messages").boundingBox();
      assert.ok(box.y >= list.y - 1 && box.y < list.y + list.height, "the reader's place moved");
    }
    assert.equal(await bob.messages().count(), 130);
    assert.equal(await bob.messages().first().locator(".text").textContent(), "numbered 1");
    assert.ok(await bob.page.locator("#messages li.day").count() >= 1, "messages are grouped by day");

    // Reading old messages, a new one does not pull the view down; a button offers to.
    const list = bob.page.locator("#messages");
    const before = await list.evaluate((el) => el.scrollTop);
    await api.send(server, token, bob.name, "a new one");
    await bob.messages().filter({ hasText: "a new one" }).waitFor({ state: "attached" });
    await bob.page.getByRole("button", { name: "New messages" }).waitFor();
    assert.equal(await list.evaluate((el) => el.scrollTop), before);
    await bob.page.getByRole("button", { name: "New messages" }).click();
    await bob.messages().filter({ hasText: "a new one" }).waitFor({ state: "visible" });
    assert.ok(await list.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 40));
  });
});

test("a server restart shows the banner, and messages sent meanwhile arrive once", async (t) => {
  const { alice, bob } = await pair(t);
  await capturing("restart", [alice, bob], async () => {
    await alice.openConversation(bob.name);
    await bob.openConversation(alice.name);
    await alice.send("before the restart");
    await bob.messages().filter({ hasText: "before the restart" }).waitFor();

    await server.stop();
    await alice.page.locator("#banner:not([hidden])").waitFor();
    await bob.page.locator("#banner:not([hidden])").waitFor();
    await alice.send("while the server was down");
    await alice.messages().last().and(alice.page.locator("[data-status='queued']")).waitFor();

    await server.start();
    await alice.waitConnected();
    await bob.waitConnected();
    await alice.page.locator("#banner").waitFor({ state: "hidden" });
    await bob.messages().filter({ hasText: "while the server was down" }).waitFor({ timeout: 30_000 });
    await alice.messages().filter({ hasText: "while the server was down" }).and(alice.page.locator("[data-status='sent'], [data-status='read']")).waitFor();
    for (const person of [alice, bob]) {
      assert.equal(await person.messages().filter({ hasText: "while the server was down" }).count(), 1);
      assert.equal(await person.messages().filter({ hasText: "before the restart" }).count(), 1);
    }
  });
});

test("people are found by name and a conversation starts from there", async (t) => {
  const { alice, bob } = await pair(t);
  await capturing("directory", [alice, bob], async () => {
    const find = bob.page.getByRole("searchbox", { name: "Find people by name" });
    await find.fill(alice.name.slice(0, -1));
    const link = bob.page.locator("#users a", { hasText: alice.name });
    await link.waitFor();
    await find.fill("nobody-by-this-name");
    await bob.page.locator("#users", { hasText: "Nobody by that name." }).waitFor();
    await find.fill(alice.name);
    await link.click();
    await bob.page.waitForURL(`**/chat/${alice.name}/`);
    await bob.waitConnected();
    await bob.send("found you");
    await alice.conversation(bob.name).locator(".preview", { hasText: "found you" }).waitFor();
  });
});

test("a message the server refuses is marked and can be retried", async (t) => {
  // A server of its own, allowing one message per second (bursts of three).
  const strict = new Server({ sendRate: 1 });
  t.after(() => strict.dispose());
  await strict.start();
  const { alice, bob } = await pair(t, strict);
  await capturing("retry", [alice, bob], async () => {
    await alice.openConversation(bob.name);
    for (let i = 1; i <= 6; i += 1) await alice.send(`burst ${i}`);
    const failed = alice.page.locator("#messages li.message[data-status='failed']");
    await failed.first().waitFor();
    await failed.first().locator(".status", { hasText: "not sent" }).waitFor();
    const text = await failed.first().locator(".text").textContent();
    const item = alice.messages().filter({ has: alice.page.locator(".text", { hasText: new RegExp(`^${text}$`) }) });
    // Retry until the limit lets it through: each refusal is marked again.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const status = await item.getAttribute("data-status");
      if (status === "sent" || status === "read") break;
      assert.ok(Date.now() < deadline, `the retried message is still ${status}`);
      if (status === "failed") await item.getByRole("button", { name: "Retry" }).click();
      await item.and(alice.page.locator(`:not([data-status='${status}'])`)).waitFor({ timeout: 5_000 }).catch(() => {});
    }
    assert.equal(await item.getByRole("button", { name: "Retry" }).count(), 0);
    await bob.openConversation(alice.name);
    const received = bob.messages().filter({ has: bob.page.locator(".text", { hasText: new RegExp(`^${text}$`) }) });
    await received.waitFor();
    assert.equal(await received.count(), 1);
  });
});

test("at phone width it shows one pane at a time and never scrolls sideways; it follows a dark theme", async (t) => {
  // A long name (usernames go up to 32 characters) must not widen the page.
  const { alice, bob } = await pair(t, server, {
    aliceName: "alice-with-a-long-name",
    aliceBrowser: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, colorScheme: "dark" },
  });
  await capturing("phone", [alice, bob], async () => {
    const page = alice.page;
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    await page.locator("nav.sidebar").waitFor();
    assert.equal(await page.locator("main.room").isVisible(), false);
    assert.equal(await overflow(), 0);

    await alice.openConversation(bob.name);
    assert.equal(await page.locator("nav.sidebar").isVisible(), false);
    await alice.send("a".repeat(300));
    await alice.send("a long line with words that wrap as they should on a narrow screen, and more words");
    await alice.messages().last().and(page.locator("[data-status='sent']")).waitFor();
    assert.equal(await overflow(), 0);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = background.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 150, `a dark background, not ${background}`);

    await page.getByRole("link", { name: "All conversations" }).click();
    await page.waitForURL("**/chat/");
    await alice.conversation(bob.name).waitFor();
  });
});

test("what was typed offline survives a reload and is sent once", async (t) => {
  const { alice, bob } = await pair(t);
  await capturing("outbox", [alice, bob], async () => {
    await alice.openConversation(bob.name);
    await server.stop();
    await alice.page.locator("#banner:not([hidden])").waitFor();
    await alice.send("typed while offline");
    await alice.messages().last().and(alice.page.locator("[data-status='queued']")).waitFor();
    // The tab reloads while the server is still down: the page itself is lost.
    await alice.page.reload().catch(() => {});
    // The failed reload ends on the browser's error page: let that
    // navigation finish, or it interrupts the next one.
    await alice.page.waitForURL(/^chrome-error:/, { timeout: 5000 }).catch(() => {});
    assert.equal(await alice.page.locator("#app").count(), 0);

    await server.start();
    await alice.openConversation(bob.name);
    const mine = () => alice.messages().filter({ has: alice.page.locator(".text", { hasText: /^typed while offline$/ }) });
    await mine().and(alice.page.locator("[data-status='sent'], [data-status='read']")).waitFor();
    await bob.openConversation(alice.name);
    const theirs = bob.messages().filter({ has: bob.page.locator(".text", { hasText: /^typed while offline$/ }) });
    await theirs.waitFor();
    assert.equal(await theirs.count(), 1);
    // Once acknowledged it leaves the outbox: another reload shows it once.
    await alice.openConversation(bob.name);
    assert.equal(await mine().count(), 1);
  });
});

test("logging out returns to the login page and closes the other tab's socket", async (t) => {
  const { alice, bob } = await pair(t);
  await capturing("logout", [alice, bob], async () => {
    const second = await alice.context.newPage();
    await second.goto(`/chat/${bob.name}/`);
    await second.locator("#app[data-connection='online']").waitFor();

    await alice.page.getByRole("button", { name: "Log out" }).click();
    await alice.page.waitForURL("**/login");
    // The server closed the other tab's socket; the tab went to the login page.
    await second.waitForURL("**/login", { timeout: 20_000 });
    const me = await alice.page.request.get("/api/me");
    assert.equal(me.status(), 401);
  });
});

test("a conversation muted from its page stays muted after a reload, and unmutes", async (t) => {
  const { alice, bob } = await pair(t);
  await capturing("mute", [alice, bob], async () => {
    const bobToken = await api.login(server, bob);
    const sent = await api.send(server, bobToken, alice.name, "are you there?");
    await alice.openConversation(bob.name);
    const button = alice.page.locator("#mute");
    await button.and(alice.page.locator("[aria-pressed='false']")).waitFor();
    await button.click();
    await button.and(alice.page.locator("[aria-pressed='true']")).waitFor();
    assert.equal(await button.textContent(), "Unmute");
    const aliceToken = await api.login(server, alice);
    assert.deepEqual(await api.mutes(server, aliceToken), [{ conversation_id: sent.conversation_id, until: null }]);
    assert.deepEqual(await api.mutes(server, bobToken), [], "muted for her alone");

    await alice.page.reload();
    await alice.waitConnected();
    await button.and(alice.page.locator("[aria-pressed='true']")).waitFor();
    await button.click();
    await button.and(alice.page.locator("[aria-pressed='false']")).waitFor();
    assert.deepEqual(await api.mutes(server, aliceToken), []);
  });
});
