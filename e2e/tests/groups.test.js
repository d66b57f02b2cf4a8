// Group conversations in the browser: made in the UI, three people chatting
// live, a member removed who then receives nothing new, an invitation
// accepted.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Person, uniqueName } from "../lib/browser.js";
import { serverAndBrowser } from "../lib/suite.js";
import { api } from "../lib/api.js";

const suite = serverAndBrowser();
const server = suite.server;

async function people(t, names) {
  const persons = [];
  for (const name of names) persons.push(await Person.open(suite.browser, server, uniqueName(name)));
  t.after(async () => {
    for (const person of persons) await person.close();
  });
  for (const person of persons) await person.signUp();
  return persons;
}

/** Both write to each other, so that either may add the other to a group. */
async function acquainted(a, b) {
  const [ta, tb] = [await api.login(server, a), await api.login(server, b)];
  await api.send(server, ta, b.name, `hi ${b.name}`);
  await api.send(server, tb, a.name, `hi ${a.name}`);
  return [ta, tb];
}

/** Makes a group through the sidebar's form; ends on its page. */
async function makeGroup(person, title, members) {
  const page = person.page;
  await page.goto("/chat/");
  await person.waitConnected();
  await page.getByLabel("Group name").fill(title);
  await page.getByLabel("Members, separated by commas").fill(members.join(", "));
  await page.getByRole("button", { name: "Create" }).click();
  await page.waitForURL("**/groups/*/");
  await person.waitConnected();
  return Number(new URL(page.url()).pathname.split("/")[2]);
}

function texts(person) {
  return person.page.locator("#messages li.message .text").allTextContents();
}

test("a group made in the UI: three people chat live, and a removed member receives nothing new", async (t) => {
  const [alice, bob, carol] = await people(t, ["alice", "bob", "carol"]);
  const [aliceToken] = await acquainted(alice, bob);
  await acquainted(alice, carol);
  // Bob and carol wait on their conversation list.
  for (const person of [bob, carol]) {
    await person.page.goto("/chat/");
    await person.waitConnected();
  }
  const id = await makeGroup(alice, "Lunch crew", [bob.name, carol.name]);
  // The group appears live in their lists; they open it from there.
  for (const person of [bob, carol]) {
    const entry = person.page.locator(`#conversations li[data-group="${id}"]`);
    await entry.locator(".name", { hasText: "Lunch crew" }).waitFor();
    await entry.locator("a").click();
    await person.page.waitForURL(`**/groups/${id}/`);
    await person.waitConnected();
  }
  await alice.page.locator("#messages li.system .text", { hasText: `alice` }).first().waitFor();

  // Everyone writes; everyone else sees it live.
  const lines = [[alice, "where shall we eat?"], [bob, "the noodle place"], [carol, "noodles, yes"]];
  for (const [author, line] of lines) {
    await author.send(line);
    for (const person of [alice, bob, carol]) {
      await person.page.locator("#messages li.message .text", { hasText: line }).waitFor();
    }
  }
  const mine = bob.page.locator("#messages li.message.mine .text", { hasText: "the noodle place" });
  await mine.waitFor();
  // The two others have it on screen: bob learns, live, that it was read
  // by two (never by whom), and still sees so after a reload.
  const status = bob.page.locator("#messages li.message.mine", { hasText: "the noodle place" }).locator(".status");
  await status.filter({ hasText: "read by 2" }).waitFor();
  await bob.page.reload();
  await bob.waitConnected();
  await status.filter({ hasText: "read by 2" }).waitFor();

  // Alice sees who is in it and removes carol.
  await alice.page.getByRole("button", { name: /^Members/ }).click();
  const members = alice.page.locator("#members li");
  await members.filter({ hasText: carol.name }).waitFor();
  await members.filter({ hasText: bob.name }).waitFor();
  await alice.page.getByRole("button", { name: `Remove ${carol.name}` }).click();
  await members.filter({ hasText: carol.name }).waitFor({ state: "detached" });

  // Carol hears of it, can no longer write, and gets nothing new.
  await carol.page.locator("#messages li.system .text", { hasText: `removed ${carol.name}` }).waitFor();
  assert.equal(await carol.page.getByRole("textbox", { name: /^Message to/ }).isDisabled(), true);
  await alice.send("just the two of us now");
  await bob.page.locator("#messages li.message .text", { hasText: "just the two of us now" }).waitFor();
  // A direct message to carol, committed after: once it has reached her,
  // anything of the group committed before it would have too.
  await api.send(server, aliceToken, carol.name, "a word, just for you");
  await carol.page.locator(`#conversations li[data-user="${alice.name}"] .preview`, { hasText: "a word, just for you" }).waitFor();
  assert.ok(!(await texts(carol)).includes("just the two of us now"), "the removed member saw a later message");
});

test("an invitation shows in the sidebar and joining opens the group", async (t) => {
  const [alice, dave] = await people(t, ["alice", "dave"]);
  await dave.page.goto("/chat/");
  await dave.waitConnected();
  // Dave has never written with alice: he is invited, not added.
  const id = await makeGroup(alice, "Book club", [dave.name]);
  await alice.send("first book: anything by Le Guin");
  // The invitation shows up live, not as a conversation.
  const invitation = dave.page.locator(`#invitations li[data-group="${id}"]`);
  await invitation.waitFor();
  assert.equal(await dave.page.locator(`#conversations li[data-group="${id}"]`).count(), 0);
  await invitation.getByRole("button", { name: "Join" }).click();
  await dave.page.waitForURL(`**/groups/${id}/`);
  await dave.waitConnected();
  await dave.page.locator("#messages li.system .text", { hasText: `${dave.name} joined` }).waitFor();
  assert.ok(!(await texts(dave)).includes("first book: anything by Le Guin"), "history before joining stays hidden");
  await alice.send("welcome, dave");
  await dave.page.locator("#messages li.message .text", { hasText: "welcome, dave" }).waitFor();
});

test("from a group's member menu: a member blocks another, the owner bans one, and a message is reported", async (t) => {
  const [alice, bob, carol] = await people(t, ["alice", "bob", "carol"]);
  await acquainted(alice, bob);
  const [, carolToken] = await acquainted(alice, carol);
  const id = await makeGroup(alice, "Book club", [bob.name, carol.name]);
  for (const person of [bob, carol]) {
    await person.page.goto(`/groups/${id}/`);
    await person.waitConnected();
  }
  await api.sendToGroup(server, carolToken, id, "buy cheap pills here");
  await bob.page.locator("#messages li.message", { hasText: "buy cheap pills here" }).waitFor();

  // Bob reports carol's message, with a reason.
  const spam = bob.page.locator("#messages li.message", { hasText: "buy cheap pills here" });
  await spam.getByRole("button", { name: "Report" }).click();
  await spam.getByLabel("Why you report this message").fill("spam");
  await spam.getByRole("button", { name: "Send report" }).click();
  await spam.locator(".report-note", { hasText: "Reported" }).waitFor();

  // Bob blocks carol from the member menu: her messages are hidden for him.
  await bob.page.getByRole("button", { name: /^Members/ }).click();
  await bob.page.getByRole("button", { name: `Block ${carol.name}` }).click();
  await bob.page.getByRole("button", { name: `Unblock ${carol.name}` }).waitFor();
  await spam.and(bob.page.locator(".blocked")).waitFor();
  // Members see no Remove or Ban buttons.
  assert.equal(await bob.page.getByRole("button", { name: `Ban ${alice.name}` }).count(), 0);

  // Alice bans carol (two clicks): carol is told and can no longer write.
  await alice.page.getByRole("button", { name: /^Members/ }).click();
  const ban = alice.page.getByRole("button", { name: `Ban ${carol.name}` });
  await ban.click();
  await ban.click();
  await alice.page.locator("#bans li", { hasText: carol.name }).waitFor();
  await alice.page.locator("#members li", { hasText: carol.name }).waitFor({ state: "detached" });
  await carol.page.locator("#messages li.system .text", { hasText: `banned ${carol.name}` }).waitFor();
  assert.equal(await carol.page.getByRole("textbox", { name: /^Message to/ }).isDisabled(), true);
  // And lifts it.
  await alice.page.getByRole("button", { name: `Lift the ban on ${carol.name}` }).click();
  await alice.page.locator("#bans li", { hasText: carol.name }).waitFor({ state: "detached" });
});
