// Building the page from data. User text only ever reaches the page as
// text nodes.

export const same = (a, b) => typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();

const timeFormat = new Intl.DateTimeFormat([], { timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat([], { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const shortDate = new Intl.DateTimeFormat([], { dateStyle: "short" });

export function dayKey(date) {
  return date.getFullYear() + "-" + (date.getMonth() + 1) + "-" + date.getDate();
}

function dayLabel(date) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(date) === dayKey(today)) return "Today";
  if (dayKey(date) === dayKey(yesterday)) return "Yesterday";
  return dayFormat.format(date);
}

// A message's <time>: the time of day in the viewer's zone, the full date
// on hover. A conversation's: the time if today, else the date.
export function localizeTime(el) {
  const date = new Date(el.getAttribute("datetime"));
  if (isNaN(date)) return;
  const today = dayKey(date) === dayKey(new Date());
  el.textContent = el.classList.contains("when") && !today ? shortDate.format(date) : timeFormat.format(date);
  el.title = date.toLocaleString();
}

// Appends `text` to `parent` as text nodes, with every case-insensitive
// occurrence of `term` in a <mark>. Never parses user text as HTML.
export function appendHighlighted(parent, text, term) {
  const lower = text.toLowerCase();
  const needle = term.toLowerCase();
  if (!needle || lower.length !== text.length) {
    parent.append(document.createTextNode(text));
    return;
  }
  let at = 0;
  for (let found = lower.indexOf(needle); found !== -1; found = lower.indexOf(needle, at)) {
    parent.append(document.createTextNode(text.slice(at, found)));
    const mark = document.createElement("mark");
    mark.textContent = text.slice(found, found + needle.length);
    parent.append(mark);
    at = found + needle.length;
  }
  parent.append(document.createTextNode(text.slice(at)));
}

let viewer = "";

/** Who reads the page: messages that mention them are highlighted. */
export function setViewer(name) {
  viewer = name;
}

/** Whether `message` mentions the reader: by name, or with `@all` or
 * `@here` from someone else. */
export function mentionsMe(message) {
  if (same(message.from, viewer)) return false;
  return Boolean(message.mention_everyone) || (message.mentions || []).some((name) => same(name, viewer));
}

const mentionWord = /(^|[^A-Za-z0-9_.\-@])@([A-Za-z0-9_.\-]+)/g;

// Appends `text` to `parent` with each `@name` the message mentions (the
// server's list, and `@all`/`@here` when it called everyone) in a
// <strong class="mention">; the rest as text nodes.
function appendMentions(parent, text, message) {
  const names = new Set((message.mentions || []).map((n) => n.toLowerCase()));
  if (message.mention_everyone) names.add(message.mention_everyone);
  let at = 0;
  for (const match of text.matchAll(mentionWord)) {
    const name = match[2].replace(/[.\-]+$/, "");
    if (!names.has(name.toLowerCase())) continue;
    const start = match.index + match[1].length;
    parent.append(document.createTextNode(text.slice(at, start)));
    const strong = document.createElement("strong");
    strong.className = "mention";
    strong.textContent = "@" + name;
    parent.append(strong);
    at = start + 1 + name.length;
  }
  parent.append(document.createTextNode(text.slice(at)));
}

/** A message's list item; a group's system message (`event`) is a line
 * of its own, not a bubble. A reply shows a quote of the message it
 * answers; a deleted message says so in its place. */
export function messageItem(message, mine, term) {
  const li = document.createElement("li");
  const system = Boolean(message.event);
  const deleted = Boolean(message.deleted_at);
  li.className = "message" + (mine && !system ? " mine" : "") + (system ? " system" : "") + (deleted ? " deleted" : "")
    + (!deleted && mentionsMe(message) ? " mentioned" : "");
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = message.from;
  li.append(from);
  if (message.reply_to) {
    li.dataset.replyTo = String(message.reply_to.id);
    li.append(quoteOf(message.reply_to));
  }
  const text = document.createElement("p");
  text.className = "text";
  if (deleted) text.textContent = "This message was deleted";
  else if (!term && (message.mentions || message.mention_everyone)) appendMentions(text, message.text, message);
  else appendHighlighted(text, message.text, term || "");
  const time = document.createElement("time");
  time.setAttribute("datetime", message.sent_at || new Date().toISOString());
  localizeTime(time);
  const edited = document.createElement("span");
  edited.className = "edited";
  edited.textContent = "edited";
  edited.hidden = !message.edited_at || deleted;
  const status = document.createElement("span");
  status.className = "status";
  li.append(text, time, edited, status);
  if (message.thread) li.append(threadLink(message.thread.replies));
  li.append(reactionsOf(message.reactions || [], new Map()));
  if (message.id) li.dataset.id = String(message.id);
  return li;
}

/** The button that opens a thread's replies under its root. */
export function threadLink(replies) {
  const link = document.createElement("button");
  link.type = "button";
  link.className = "link thread-link";
  setReplies(link, replies);
  return link;
}

/** Says how many replies a thread has. */
export function setReplies(link, replies) {
  link.dataset.replies = String(replies);
  link.textContent = replies + (replies === 1 ? " reply" : " replies");
}

/** A message's reactions: one button per emoji with its count, pressed
 * when the reader is among them. `known` holds what the page knew of the
 * reader's own (emoji -> bool), for reactions whose `me` a shared frame
 * does not say. */
export function reactionsOf(reactions, known) {
  const row = document.createElement("span");
  row.className = "reactions";
  for (const reaction of reactions) {
    const mine = typeof reaction.me === "boolean" ? reaction.me : known.get(reaction.emoji) === true;
    const chip = document.createElement("button");
    chip.type = "button";
    chip.className = "reaction";
    chip.dataset.emoji = reaction.emoji;
    chip.setAttribute("aria-pressed", String(mine));
    chip.setAttribute("aria-label", reaction.emoji + " " + reaction.count + (mine ? ", including you" : ""));
    chip.textContent = reaction.emoji + " " + reaction.count;
    row.append(chip);
  }
  return row;
}

/** What a message's reaction buttons say of the reader's own reactions. */
export function ownReactions(li) {
  const known = new Map();
  for (const chip of li.querySelectorAll(".reactions .reaction")) {
    known.set(chip.dataset.emoji, chip.getAttribute("aria-pressed") === "true");
  }
  return known;
}

/** The quote of the message a reply answers (`text` null once deleted). */
export function quoteOf(quote) {
  const block = document.createElement("blockquote");
  block.className = "quote";
  const who = document.createElement("span");
  who.className = "quote-from";
  who.textContent = quote.from;
  const said = document.createElement("span");
  said.className = "quote-text";
  said.textContent = quote.text === null || quote.text === undefined ? "Message deleted" : quote.text;
  block.append(who, document.createTextNode(" "), said);
  return block;
}

export function dayOf(li) {
  const time = li.querySelector("time");
  return time ? new Date(time.getAttribute("datetime")) : new Date();
}

export function daySeparator(date) {
  const li = document.createElement("li");
  li.className = "day";
  li.setAttribute("role", "separator");
  li.dataset.day = dayKey(date);
  li.textContent = dayLabel(date);
  return li;
}

// Puts a day heading before the first message of every local day.
export function separateDays(target) {
  for (const old of target.querySelectorAll("li.day")) old.remove();
  let previous = null;
  for (const li of [...target.querySelectorAll("li.message")]) {
    const date = dayOf(li);
    if (dayKey(date) !== previous) li.before(daySeparator(date));
    previous = dayKey(date);
  }
}

const STATUS_TEXT = { queued: "waiting for connection", pending: "sending…", sent: "sent", read: "read", failed: "not sent" };

export function setStatus(li, status) {
  li.dataset.status = status;
  li.querySelector(".status").textContent = STATUS_TEXT[status] || "";
}

/** Shows on the user's own group message how many members have read it. */
export function setReadBy(li, count) {
  li.dataset.readBy = String(count);
  setStatus(li, count > 0 ? "read" : "sent");
  if (count > 0) li.querySelector(".status").textContent = "read by " + count;
}

/** Shows `message` in the form's error line. */
export function showError(el, message) {
  el.textContent = message;
  el.hidden = !message;
}
