// Replies, edits and deletes in headless Chromium: what one person changes
// reaches the other's open conversation live.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Person, uniqueName } from "../lib/browser.js";
import { serverAndBrowser } from "../lib/suite.js";

const suite = serverAndBrowser();

// Alice and Bob signed up, Alice's `text` stored, and both in their
// conversation, Bob seeing it.
async function talking(t, text) {
  const alice = await Person.open(suite.browser, suite.server, uniqueName("alice"));
  const bob = await Person.open(suite.browser, suite.server, uniqueName("bob"));
  t.after(async () => {
    await alice.close();
    await bob.close();
  });
  await alice.signUp();
  await bob.signUp();
  await alice.openConversation(bob.name);
  await alice.send(text);
  // Stored before Bob looks: his page shows it, whether in its history
  // or live.
  await alice.messages().filter({ hasText: text }).and(alice.page.locator("[data-status='sent']")).waitFor();
  await bob.openConversation(alice.name);
  await bob.messages().filter({ hasText: text }).waitFor();
  return { alice, bob };
}

/** Screenshots both pages into e2e/artifacts when `body` throws. */
async function capturing(name, people, body) {
  try {
    await body();
  } catch (error) {
    for (const person of people) await person.screenshot(name).catch(() => {});
    throw error;
  }
}

test("a reply, an edit and a delete reach the other browser live", async (t) => {
  const { alice, bob } = await talking(t, "see you at noon");
  await capturing("lifecycle", [alice, bob], async () => {
    const original = bob.messages().filter({ hasText: "see you at noon" });
    await original.waitFor();

    // Bob replies to it: his message quotes hers, on both screens.
    await original.getByRole("button", { name: "Reply" }).click();
    await bob.page.locator("#composer-note:not([hidden])", { hasText: "Replying to " + alice.name }).waitFor();
    await bob.send("sounds good");
    const reply = alice.messages().filter({ hasText: "sounds good" });
    await reply.locator(".quote", { hasText: "see you at noon" }).waitFor();
    const bobsReply = bob.messages().filter({ hasText: "sounds good" });
    await bobsReply.locator(".quote", { hasText: "see you at noon" }).waitFor();

    // Alice edits hers: Bob sees the new text, marked edited, and his
    // quote follows.
    const hers = alice.messages().filter({ hasText: "see you at noon" }).and(alice.page.locator(".mine"));
    await hers.getByRole("button", { name: "Edit" }).click();
    const box = alice.page.getByRole("textbox", { name: /^Message to/ });
    assert.equal(await box.inputValue(), "see you at noon");
    await box.fill("see you at one");
    await box.press("Enter");
    const edited = bob.messages().filter({ hasText: "see you at one" }).and(bob.page.locator(":not(.mine)"));
    await edited.locator(".edited:not([hidden])").waitFor();
    await bobsReply.locator(".quote", { hasText: "see you at one" }).waitFor();
    assert.equal(await bob.messages().filter({ hasText: "see you at noon" }).count(), 0);

    // Alice deletes it (two clicks): Bob sees that it was deleted, in its
    // place, and the quote says so too.
    const mine = alice.messages().filter({ hasText: "see you at one" }).and(alice.page.locator(".mine"));
    const remove = mine.getByRole("button", { name: "Delete" });
    await remove.click();
    await mine.getByRole("button", { name: "Delete for everyone?" }).click();
    await bob.messages().filter({ hasText: "This message was deleted" }).waitFor();
    await bobsReply.locator(".quote", { hasText: "Message deleted" }).waitFor();
    assert.equal(await bob.messages().filter({ hasText: "see you at one" }).count(), 0);
    await alice.messages().filter({ hasText: "This message was deleted" }).waitFor();

    // After a reload, the history says the same.
    await bob.openConversation(alice.name);
    await bob.messages().filter({ hasText: "This message was deleted" }).waitFor();
    await bob.messages().filter({ hasText: "sounds good" }).locator(".quote", { hasText: "Message deleted" }).waitFor();
    assert.deepEqual(alice.dialogs, []);
  });
});

test("a reaction reaches the other browser live, and each sees which are theirs", async (t) => {
  const { alice, bob } = await talking(t, "we shipped it");
  await capturing("reactions", [alice, bob], async () => {
    const onBobs = bob.messages().filter({ hasText: "we shipped it" });
    await onBobs.waitFor();
    await onBobs.getByRole("button", { name: "React" }).click();
    await onBobs.getByRole("group", { name: "React with" }).getByRole("button", { name: "🎉" }).click();
    await onBobs.locator(".reaction[aria-pressed='true']", { hasText: "🎉 1" }).waitFor();

    // Alice sees it live, not as hers; she adds hers with the same button.
    const onAlices = alice.messages().filter({ hasText: "we shipped it" });
    const chip = onAlices.locator(".reaction", { hasText: "🎉 1" });
    await chip.waitFor();
    assert.equal(await chip.getAttribute("aria-pressed"), "false");
    await chip.click();
    await onAlices.locator(".reaction[aria-pressed='true']", { hasText: "🎉 2" }).waitFor();
    await onBobs.locator(".reaction[aria-pressed='true']", { hasText: "🎉 2" }).waitFor();

    // Bob takes his away: both see one, Alice's still hers.
    await onBobs.locator(".reaction", { hasText: "🎉 2" }).click();
    await onBobs.locator(".reaction[aria-pressed='false']", { hasText: "🎉 1" }).waitFor();
    await onAlices.locator(".reaction[aria-pressed='true']", { hasText: "🎉 1" }).waitFor();

    // After a reload, the page says the same.
    await bob.openConversation(alice.name);
    await bob.messages().filter({ hasText: "we shipped it" }).locator(".reaction[aria-pressed='false']", { hasText: "🎉 1" }).waitFor();
  });
});

test("a person blocked from a conversation's header cannot write until unblocked", async (t) => {
  const { alice, bob } = await talking(t, "hello bob");
  await capturing("block", [alice, bob], async () => {
    await bob.messages().filter({ hasText: "hello bob" }).waitFor();

    const block = alice.page.locator("#block");
    await block.locator("xpath=self::*[@aria-pressed='false']").waitFor();
    await block.click();
    await alice.page.locator("#block[aria-pressed='true']", { hasText: "Unblock" }).waitFor();

    // Bob's message is refused, and marked so on his side; nothing reaches Alice.
    await bob.send("are you there?");
    await bob.messages().filter({ hasText: "are you there?" }).and(bob.page.locator("[data-status='failed']")).waitFor();
    assert.equal(await alice.messages().filter({ hasText: "are you there?" }).count(), 0);

    // The block holds across a reload; lifted, Bob's retry goes through.
    await alice.openConversation(bob.name);
    await alice.page.locator("#block[aria-pressed='true']").waitFor();
    await alice.page.locator("#block").click();
    await alice.page.locator("#block[aria-pressed='false']", { hasText: "Block" }).waitFor();
    await bob.messages().filter({ hasText: "are you there?" }).getByRole("button", { name: "Retry" }).click();
    await alice.messages().filter({ hasText: "are you there?" }).waitFor();
  });
});

test("a mention is counted in the list and highlighted in the conversation", async (t) => {
  const { alice, bob } = await talking(t, "are you there?");
  await capturing("mentions", [alice, bob], async () => {
    // Bob looks at the list, not the conversation: Alice's mention counts.
    await bob.page.goto("/chat/");
    await bob.waitConnected();
    await alice.send(`@${bob.name} look at this`);
    const badge = bob.conversation(alice.name).locator(".mention-count:not([hidden])");
    await badge.waitFor();
    assert.equal(await badge.textContent(), "@1");
    // A message without a mention adds to unread only.
    await alice.send("and this");
    await bob.conversation(alice.name).locator(".unread", { hasText: "2" }).waitFor();
    assert.equal(await badge.textContent(), "@1");
    // The server says the same after a reload.
    await bob.page.reload();
    await bob.waitConnected();
    assert.equal(await bob.conversation(alice.name).locator(".mention-count:not([hidden])").textContent(), "@1");
    // In the conversation, the message is marked and the name stands out.
    await bob.openConversation(alice.name);
    const mentioned = bob.messages().filter({ hasText: "look at this" });
    await mentioned.and(bob.page.locator(".mentioned")).waitFor();
    assert.equal(await mentioned.locator("strong.mention").textContent(), `@${bob.name}`);
    assert.equal(await bob.messages().filter({ hasText: "and this" }).and(bob.page.locator(".mentioned")).count(), 0);
    // Alice's own copy is not highlighted for her.
    const hers = alice.messages().filter({ hasText: "look at this" });
    await hers.waitFor();
    assert.equal(await hers.and(alice.page.locator(".mentioned")).count(), 0);
  });
});

test("a root counts its replies live and opens its thread", async (t) => {
  const { alice, bob } = await talking(t, "who brings the cake?");
  await capturing("threads", [alice, bob], async () => {
    const root = bob.messages().filter({ hasText: "who brings the cake?" });
    await root.getByRole("button", { name: "Reply" }).click();
    await bob.send("I will");
    // Alice's copy of the root counts it, live.
    const hers = alice.messages().filter({ hasText: "who brings the cake?" }).and(alice.page.locator(".mine"));
    const link = hers.locator(".thread-link");
    await link.filter({ hasText: "1 reply" }).waitFor();
    // Opened, the thread lists the reply under its root.
    await link.click();
    await hers.locator(".thread li.message", { hasText: "I will" }).waitFor();
    // The server says the same after a reload.
    await alice.page.reload();
    await alice.waitConnected();
    await hers.locator(".thread-link", { hasText: "1 reply" }).waitFor();
  });
});
