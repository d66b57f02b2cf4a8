// Draws the README's screenshots of the UI (desktop and phone width) from a
// short conversation between two people, through the same helpers as the
// tests: `npm run screenshots` (after building chat-server).
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Person, launch } from "./lib/browser.js";
import { Server } from "./lib/server.js";
import { api } from "./lib/api.js";

const images = resolve(fileURLToPath(import.meta.url), "../../docs/img");
mkdirSync(images, { recursive: true });

const server = new Server();
await server.start();
const browser = await launch();
try {
  const ada = await Person.open(browser, server, "ada", { viewport: { width: 1100, height: 700 }, colorScheme: "light" });
  const grace = await Person.open(browser, server, "grace");
  const linus = await Person.open(browser, server, "linus");
  await ada.signUp();
  await grace.signUp();
  await linus.signUp();
  const fromGrace = await api.login(server, grace);
  const fromLinus = await api.login(server, linus);
  await api.send(server, fromLinus, "ada", "Patch is up for review when you have a minute.");
  await api.send(server, fromGrace, "ada", "Morning! Did the deploy go out?");

  await ada.openConversation("grace");
  await ada.send("It did, at 9:40. No errors so far.");
  await api.send(server, fromGrace, "ada", "Lovely. Can you search for the rollback notes from last week?");
  await ada.messages().filter({ hasText: "rollback notes" }).waitFor();
  await ada.send("Sure, they are in the runbook under \"deploy\".");
  await ada.messages().last().and(ada.page.locator("[data-status='sent'], [data-status='read']")).waitFor();
  await grace.openConversation("ada");
  await ada.messages().last().and(ada.page.locator("[data-status='read']")).waitFor();
  await grace.page.getByRole("textbox", { name: /^Message to/ }).pressSequentially("Thanks");
  await ada.page.locator("#typing", { hasText: "is typing" }).waitFor();
  await ada.page.screenshot({ path: join(images, "ui-desktop.png") });

  const phone = await Person.open(browser, server, "ada", {
    viewport: { width: 360, height: 720 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: "dark",
  });
  await phone.logIn();
  await phone.openConversation("grace");
  await phone.page.screenshot({ path: join(images, "ui-phone.png") });
  console.log(`wrote ${join(images, "ui-desktop.png")} and ui-phone.png`);
} finally {
  await browser.close();
  await server.dispose();
}
