// The chat page: server-rendered first, then live over the WebSocket. The
// room it shows is a direct conversation (`peer`) or a group (`groupId`).

import { errorText, getJson, loginUrl, postJson, request, url } from "./api.js";
import { Connection } from "./connection.js";
import {
  appendHighlighted, dayKey, dayOf, daySeparator, localizeTime, mentionsMe, messageItem, ownReactions, quoteOf,
  reactionsOf, same, separateDays, setReadBy, setReplies, setStatus, setViewer, threadLink,
} from "./dom.js";
import { groupDirectory, groupTitle, invitations, memberPanel, newGroupForm } from "./groups.js";

// The reactions offered at a click; any other emoji comes by the API.
const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

export function chatPage() {
  const app = document.getElementById("app");
  const me = app.dataset.me;
  setViewer(me);
  const peer = app.dataset.peer || null;
  const groupId = Number(app.dataset.group) || null;
  const room = peer !== null ? { peer } : groupId !== null ? { group: groupId } : null;
  const messagesUrl = url(peer !== null
    ? "/api/conversations/" + encodeURIComponent(peer) + "/messages"
    : "/api/groups/" + groupId + "/messages");
  const list = document.getElementById("messages");
  const results = document.getElementById("results");
  const conversations = document.getElementById("conversations");
  const banner = document.getElementById("banner");
  const announcer = document.getElementById("announcer");
  const typingLine = document.getElementById("typing");
  const jump = document.getElementById("jump");
  const form = document.getElementById("send-form");
  const searchForm = document.getElementById("search-form");
  const searchNote = document.getElementById("search-note");
  const serverSearch = new URLSearchParams(location.search).get("search") || "";
  const roomKey = room === null ? null : room.group !== undefined ? { group: room.group } : { user: room.peer };
  // Whom the user blocks: in a group, their messages are hidden.
  const blocked = new Set();
  const blocks = {
    has: (name) => [...blocked].some((b) => same(b, name)),
    /** Blocks `name`, or unblocks them; whether it worked. */
    async toggle(name) {
      const on = blocks.has(name);
      const path = "/api/blocks/" + encodeURIComponent(name);
      const result = on ? await request("DELETE", path) : await request("PUT", path, {});
      if (!result.ok) return false;
      for (const b of [...blocked]) if (same(b, name)) blocked.delete(b);
      if (!on) blocked.add(name);
      showBlocked();
      return true;
    },
  };
  const panel = groupId !== null && document.getElementById("members-toggle") ? memberPanel(groupId, me, blocks) : null;
  const seen = new Set();
  // Sent but not yet acknowledged: client_id -> { to | group, text, li }, where
  // li is the bubble when the conversation is on screen. Kept in
  // sessionStorage too, so a reload while offline loses nothing.
  const pending = new Map();
  const outboxKey = "chat-outbox:" + me.toLowerCase();
  let lastId = Number(app.dataset.lastId) || 0;
  // The cursor of the last change that arrived: where a reconnect resumes
  // (read marks made meanwhile included). Until the first frame, the
  // newest message id the page was rendered with.
  let cursor = null;
  let hasMore = list ? list.dataset.hasMore === "true" : false;
  let loadingOlder = false;
  let typingTimer = null;
  let lastTypingSent = 0;
  let readSent = 0;
  // What the composer is doing besides writing a new message: replying to
  // `{ id, from, text }`, or editing the user's message `{ id }`.
  let replyTo = null;
  let editing = null;
  // Back from the back-forward cache: its socket is gone, start afresh.
  window.addEventListener("pageshow", (event) => { if (event.persisted) location.reload(); });

  // ---- rendering -------------------------------------------------------

  function appendMessageItem(li) {
    const messages = list.querySelectorAll("li.message");
    const last = messages[messages.length - 1];
    const date = dayOf(li);
    if (!last || dayKey(dayOf(last)) !== dayKey(date)) list.append(daySeparator(date));
    list.append(li);
    decorate(li);
    markBlocked(li);
  }

  // A group's message from someone the user blocks is hidden (its place
  // says so); a direct room with them shows what was said before.
  function markBlocked(li) {
    if (room === null || room.group === undefined || li.classList.contains("system")) return;
    const from = li.querySelector(".from")?.textContent || "";
    li.classList.toggle("blocked", [...blocked].some((name) => same(name, from)));
  }

  // ---- replies, edits and deletes ---------------------------------------

  // A message's actions: reply to any message; edit or delete one's own.
  // Not on a group's system messages, on deleted ones, or on a bubble not
  // yet stored.
  function decorate(li) {
    if (!form || !li.dataset.id || li.querySelector(".actions")) return;
    if (li.classList.contains("system") || li.classList.contains("deleted")) return;
    const actions = document.createElement("span");
    actions.className = "actions";
    const button = (label, run) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "link";
      b.textContent = label;
      b.addEventListener("click", () => run(b));
      actions.append(b);
    };
    button("Reply", () => startReply(li));
    button("React", (b) => {
      const open = li.querySelector(".picker");
      if (open) {
        open.remove();
        return;
      }
      const picker = document.createElement("span");
      picker.className = "picker";
      picker.setAttribute("role", "group");
      picker.setAttribute("aria-label", "React with");
      for (const emoji of QUICK_REACTIONS) {
        const choice = document.createElement("button");
        choice.type = "button";
        choice.className = "link";
        choice.textContent = emoji;
        choice.addEventListener("click", () => {
          picker.remove();
          react(li, emoji);
        });
        picker.append(choice);
      }
      b.after(picker);
    });
    if (li.classList.contains("mine")) {
      button("Edit", () => startEdit(li));
      // Two clicks: the first asks, the second deletes.
      button("Delete", (b) => {
        if (b.dataset.confirm !== "true") {
          b.dataset.confirm = "true";
          b.textContent = "Delete for everyone?";
          setTimeout(() => { b.dataset.confirm = "false"; b.textContent = "Delete"; }, 4000);
          return;
        }
        connection.send({ type: "delete", id: Number(li.dataset.id) });
      });
    } else {
      button("Report", (b) => startReport(li, b));
    }
    li.append(actions);
  }

  // Threads: a root shows how many replies it has; opening it lists them
  // under it (the replies are in the conversation too, each quoting what
  // it answers) and marks the thread read.
  list?.addEventListener("click", (event) => {
    const link = event.target.closest(".thread-link");
    if (link) toggleThread(link.closest("li.message"), link);
  });

  async function toggleThread(root, link) {
    const open = root.querySelector(".thread");
    if (open) {
      open.remove();
      link.setAttribute("aria-expanded", "false");
      return;
    }
    const result = await getJson("/api/messages/" + root.dataset.id + "/thread?limit=200");
    if (!result.ok) return;
    const thread = document.createElement("ol");
    thread.className = "thread";
    thread.setAttribute("aria-label", "Replies");
    for (const reply of result.data.messages) thread.append(messageItem(reply, same(reply.from, me)));
    link.after(thread);
    link.setAttribute("aria-expanded", "true");
    setReplies(link, result.data.root.thread ? result.data.root.thread.replies : result.data.messages.length);
    const newest = result.data.messages[result.data.messages.length - 1];
    if (newest) postJson("/api/messages/" + root.dataset.id + "/thread/read", { up_to: newest.id }).catch(() => {});
  }

  // A reply heard live: its root, if on the page, counts it (and shows it
  // in its open thread).
  function countReply(message) {
    if (!message.thread_root) return;
    const root = list?.querySelector(`li.message[data-id="${message.thread_root}"]`);
    if (!root) return;
    let link = root.querySelector(":scope > .thread-link");
    if (!link) {
      link = threadLink(0);
      root.querySelector(":scope > .reactions").before(link);
    }
    setReplies(link, Number(link.dataset.replies || "0") + 1);
    root.querySelector(":scope > .thread")?.append(messageItem(message, same(message.from, me)));
  }

  // Reporting someone's message: a reason, then it goes to the
  // administrators' queue (nobody else is told).
  function startReport(li, opener) {
    if (li.querySelector(".report")) return;
    const report = document.createElement("form");
    report.className = "report";
    const reason = document.createElement("input");
    reason.placeholder = "Why? (required)";
    reason.maxLength = 500;
    reason.required = true;
    reason.setAttribute("aria-label", "Why you report this message");
    const send = document.createElement("button");
    send.type = "submit";
    send.textContent = "Send report";
    const note = document.createElement("span");
    note.className = "report-note";
    note.setAttribute("role", "status");
    report.append(reason, send, note);
    report.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await postJson("/api/reports", { message_id: Number(li.dataset.id), reason: reason.value });
      if (!result.ok) {
        note.textContent = errorText(result);
        return;
      }
      report.replaceChildren(note);
      note.textContent = "Reported. Thank you.";
      opener.disabled = true;
    });
    opener.parentElement.after(report);
    reason.focus();
  }

  // Toggles the reader's reaction `emoji` on a message.
  function react(li, emoji) {
    const mine = ownReactions(li).get(emoji) === true;
    connection.send({ type: mine ? "unreact" : "react", id: Number(li.dataset.id), emoji });
  }

  // A `reaction` frame: the message's counts as they are now; whether one
  // is the reader's is known from the page, or from the frame when the
  // reader reacted.
  function onReaction(frame) {
    for (const li of document.querySelectorAll(`li.message[data-id="${Number(frame.message_id)}"]`)) {
      const known = ownReactions(li);
      if (same(frame.user, me)) known.set(frame.emoji, frame.added);
      li.querySelector(".reactions")?.replaceWith(reactionsOf(frame.reactions || [], known));
    }
  }

  function composerNote(label, text) {
    const note = document.getElementById("composer-note");
    note.hidden = label === null;
    note.querySelector(".label").textContent = label || "";
    note.querySelector(".quoted").textContent = text || "";
  }

  function startReply(li) {
    editing = null;
    replyTo = { id: Number(li.dataset.id), from: li.querySelector(".from").textContent, text: li.querySelector(".text").textContent };
    composerNote("Replying to " + replyTo.from, replyTo.text.slice(0, 100));
    document.getElementById("text").focus();
  }

  function startEdit(li) {
    replyTo = null;
    editing = { id: Number(li.dataset.id) };
    const input = document.getElementById("text");
    input.value = li.querySelector(".text").textContent;
    composerNote("Editing your message", "");
    input.focus();
  }

  function endComposerMode() {
    replyTo = null;
    editing = null;
    composerNote(null, "");
  }

  // An edited or deleted message: its bubble shows it as it is now, and so
  // do the quotes of replies to it.
  function onRevised(message) {
    const entry = conversationEntry(keyOf(message));
    if (entry && Number(entry.dataset.lastId) === message.id) {
      entry.querySelector(".preview").textContent = message.deleted_at ? "Message deleted" : message.text.split("\n")[0].slice(0, 60);
    }
    for (const li of document.querySelectorAll(`li.message[data-id="${Number(message.id)}"]`)) {
      // A late edit never brings a deleted message back.
      if (li.classList.contains("deleted") && !message.deleted_at) continue;
      const mine = li.classList.contains("mine");
      const known = ownReactions(li);
      const fresh = messageItem(message, mine);
      fresh.querySelector(".reactions").replaceWith(reactionsOf(message.reactions || [], known));
      if (mine) setStatus(fresh, li.dataset.status || "sent");
      if (li.dataset.readBy !== undefined) setReadBy(fresh, Number(li.dataset.readBy));
      li.replaceWith(fresh);
      if (fresh.closest("#messages")) {
        decorate(fresh);
        markBlocked(fresh);
      }
    }
    for (const reply of document.querySelectorAll(`li.message[data-reply-to="${Number(message.id)}"]`)) {
      reply.querySelector(".quote")?.replaceWith(quoteOf({
        id: message.id,
        from: message.from,
        text: message.deleted_at ? null : message.text.slice(0, 100),
      }));
    }
    if (editing && editing.id === message.id && message.deleted_at) endComposerMode();
  }

  // ---- scrolling and older pages ---------------------------------------

  function atBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }

  function scrollToEnd() {
    list.scrollTop = list.scrollHeight;
    jump.hidden = true;
  }

  function oldestId() {
    const first = list.querySelector("li.message[data-id]");
    return first ? Number(first.dataset.id) : 0;
  }

  async function loadOlder() {
    if (!hasMore || loadingOlder || serverSearch) return;
    const before = oldestId();
    if (!before) return;
    loadingOlder = true;
    list.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(messagesUrl + "?limit=50&before=" + before, { credentials: "same-origin" });
      if (!response.ok) return;
      const page = await response.json();
      const height = list.scrollHeight;
      const top = list.scrollTop;
      const fragment = document.createDocumentFragment();
      for (const message of page.messages) {
        if (seen.has(message.id)) continue;
        seen.add(message.id);
        const li = messageItem(message, same(message.from, me));
        if (same(message.from, me)) ownStatus(li, message.read_by);
        decorate(li);
        fragment.append(li);
      }
      list.prepend(fragment);
      separateDays(list);
      hasMore = page.has_more;
      // Keep what the reader was looking at where it was.
      list.scrollTop = top + (list.scrollHeight - height);
    } catch (_) {
      // Offline: try again on the next scroll.
    } finally {
      loadingOlder = false;
      list.removeAttribute("aria-busy");
    }
    fillViewport();
  }

  // Loads older pages until the list can scroll (or there are none).
  function fillViewport() {
    if (hasMore && list.scrollHeight <= list.clientHeight + 80) loadOlder();
  }

  // ---- conversation list -------------------------------------------------

  // A list entry is a direct conversation (`{ user }`) or a group
  // (`{ group }`).
  function conversationEntry(key) {
    return [...conversations.children].find((el) => key.group !== undefined
      ? Number(el.dataset.group) === key.group
      : el.dataset.user !== undefined && same(el.dataset.user, key.user));
  }

  function isOpen(key) {
    return room !== null && (key.group !== undefined ? room.group === key.group : same(key.user, room.peer));
  }

  function newConversationEntry(key) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    const name = document.createElement("span");
    name.className = "name";
    if (key.group !== undefined) {
      li.dataset.group = String(key.group);
      li.className = "group";
      a.href = url("/groups/" + key.group + "/");
      const label = document.createTextNode("…");
      name.append(label);
      groupTitle(key.group).then((title) => { if (title) label.textContent = title; });
    } else {
      li.dataset.user = key.user;
      li.dataset.online = "false";
      a.href = url("/chat/" + encodeURIComponent(key.user) + "/");
      const dot = document.createElement("span");
      dot.className = "presence";
      dot.setAttribute("role", "img");
      dot.setAttribute("aria-label", "offline");
      name.append(dot, document.createTextNode(key.user));
    }
    const when = document.createElement("time");
    when.className = "when";
    const preview = document.createElement("span");
    preview.className = "preview";
    const mentions = document.createElement("span");
    mentions.className = "mention-count";
    mentions.hidden = true;
    mentions.textContent = "@0";
    const unread = document.createElement("span");
    unread.className = "unread";
    unread.hidden = true;
    unread.textContent = "0";
    a.append(name, when, preview, mentions, unread);
    li.append(a);
    if (isOpen(key)) li.classList.add("active");
    return li;
  }

  function setUnread(li, count) {
    const badge = li.querySelector(".unread");
    badge.textContent = String(count);
    badge.setAttribute("aria-label", count + " unread");
    badge.hidden = count === 0;
    if (count === 0) setMentions(li, 0);
  }

  function setMentions(li, count) {
    const badge = li.querySelector(".mention-count");
    if (!badge) return;
    badge.textContent = "@" + count;
    badge.dataset.count = String(count);
    badge.setAttribute("aria-label", count + " mentioning you");
    badge.hidden = count === 0;
  }

  function viewing(key) {
    return isOpen(key) && !serverSearch && document.hasFocus() && document.visibilityState === "visible";
  }

  /** The list entry a message belongs to. */
  function keyOf(message) {
    if (!message.to) return { group: message.conversation_id };
    return { user: same(message.from, me) ? message.to : message.from };
  }

  function updateConversation(message) {
    const mine = same(message.from, me) && !message.event;
    const key = keyOf(message);
    const li = conversationEntry(key) || newConversationEntry(key);
    if (Number(li.dataset.lastId || 0) > message.id) return;
    li.dataset.lastId = String(message.id);
    li.querySelector(".preview").textContent = message.text.split("\n")[0].slice(0, 60);
    const when = li.querySelector(".when");
    when.setAttribute("datetime", message.sent_at);
    localizeTime(when);
    if (!mine && !viewing(key)) {
      setUnread(li, Number(li.querySelector(".unread").textContent || "0") + 1);
      if (mentionsMe(message)) {
        const badge = li.querySelector(".mention-count");
        setMentions(li, Number(badge.dataset.count || badge.textContent.slice(1) || "0") + 1);
      }
    }
    conversations.prepend(li);
  }

  function setPresence(user, online) {
    const li = conversationEntry({ user });
    for (const el of [li, peer !== null && same(user, peer) ? app.querySelector(".room-head") : null]) {
      if (!el) continue;
      el.dataset.online = String(online);
      const dot = el.querySelector(".presence");
      if (dot) dot.setAttribute("aria-label", online ? "online" : "offline");
    }
  }

  // ---- live messages -----------------------------------------------------

  let peerRead = Number(app.dataset.peerRead) || 0;

  function inThisRoom(message) {
    if (room === null || serverSearch) return false;
    if (room.group !== undefined) return !message.to && message.conversation_id === room.group;
    return Boolean(message.to) && (same(message.from, peer) || same(message.to, peer));
  }

  /** Whether an outbox entry is for the room on screen. */
  function forThisRoom(entry) {
    return room !== null && (room.group !== undefined ? entry.group === room.group : same(entry.to || "", room.peer));
  }

  function saveOutbox() {
    try {
      const entries = [...pending].map(([clientId, entry]) => ({ clientId, to: entry.to, group: entry.group, text: entry.text, replyTo: entry.replyTo }));
      if (entries.length) sessionStorage.setItem(outboxKey, JSON.stringify(entries));
      else sessionStorage.removeItem(outboxKey);
    } catch (_) {
      // Storage full or disabled: the queue still lives in this page.
    }
  }

  function loadOutbox() {
    try {
      const entries = JSON.parse(sessionStorage.getItem(outboxKey) || "[]");
      return Array.isArray(entries) ? entries : [];
    } catch (_) {
      return [];
    }
  }

  // The status of one of the user's own messages: "read by N" in a group
  // (`readBy` from the server), read or sent by the peer's mark otherwise.
  function ownStatus(li, readBy) {
    if (readBy !== undefined && readBy !== null) setReadBy(li, readBy);
    else setStatus(li, Number(li.dataset.id) <= peerRead ? "read" : "sent");
  }

  // `shown`: the message is on screen already (it was committed before a
  // reload), so the bubble that stood for it goes.
  function confirmSent(clientId, message, shown) {
    const entry = pending.get(clientId);
    if (!entry) return false;
    pending.delete(clientId);
    saveOutbox();
    if (!entry.li) return true;
    if (shown) {
      entry.li.remove();
      return true;
    }
    entry.li.dataset.id = String(message.id);
    entry.li.querySelector("time").setAttribute("datetime", message.sent_at);
    localizeTime(entry.li.querySelector("time"));
    setStatus(entry.li, message.id <= peerRead ? "read" : "sent");
    decorate(entry.li);
    return true;
  }

  function showMessage(message) {
    if (seen.has(message.id)) return;
    seen.add(message.id);
    lastId = Math.max(lastId, message.id);
    // Invited: not a conversation of the user's yet, but an invitation.
    if (message.event && message.event.type === "invited" && same(message.event.user, me)) {
      invitations();
      return;
    }
    updateConversation(message);
    const mine = same(message.from, me) && !message.event;
    // A replayed copy of a message this page sent but never saw acked.
    if (mine && message.client_id && confirmSent(message.client_id, message)) return;
    if (!inThisRoom(message)) {
      if (!mine) announce(message);
      return;
    }
    countReply(message);
    if (!mine) {
      clearTimeout(typingTimer);
      typingLine.textContent = "";
      announce(message);
    }
    if (message.event) onGroupEvent(message);
    const follow = atBottom();
    const li = messageItem(message, mine);
    if (mine) setStatus(li, "sent");
    appendMessageItem(li);
    if (follow) {
      scrollToEnd();
      markRead();
    } else {
      jump.hidden = false;
    }
  }

  // A change of the group on screen: the member panel follows it, and a
  // member removed (or who left on another device) can no longer write.
  function onGroupEvent(message) {
    if (panel) panel.changed();
    const event = message.event;
    const gone = ((event.type === "removed" || event.type === "banned") && same(event.user, me))
      || (event.type === "left" && same(message.from, me));
    if (gone && form) {
      form.querySelector("textarea").disabled = true;
      form.querySelector("button").disabled = true;
    }
  }

  function announce(message) {
    announcer.textContent = "";
    announcer.textContent = "New message from " + message.from + ": " + message.text.slice(0, 200);
  }

  // Only what the reader can see counts as read: the conversation open,
  // the tab visible and focused, the view at its newest message.
  function markRead() {
    if (room === null || !viewing(roomKey) || !atBottom()) return;
    const fromOthers = list.querySelectorAll("li.message[data-id]:not(.mine)");
    const newest = fromOthers.length ? Number(fromOthers[fromOthers.length - 1].dataset.id) : 0;
    if (newest > readSent) {
      const frame = room.group !== undefined
        ? { type: "read", conversation_id: room.group, up_to: newest }
        : { type: "read", with: peer, up_to: newest };
      if (connection.send(frame)) readSent = newest;
    }
    const li = conversationEntry(roomKey);
    if (li) setUnread(li, 0);
  }

  function onFrame(frame) {
    if (typeof frame.cursor === "string") cursor = frame.cursor;
    switch (frame.type) {
      case "ready":
        connection.ready();
        setConnection("online");
        flushPending();
        markRead();
        break;
      case "edited":
      case "deleted":
        onRevised(frame.message);
        break;
      case "reaction":
        onReaction(frame);
        break;
      case "message":
        showMessage(frame.message);
        break;
      case "ack": {
        const shown = seen.has(frame.message.id);
        seen.add(frame.message.id);
        if (!shown && inThisRoom(frame.message)) countReply(frame.message);
        lastId = Math.max(lastId, frame.message.id);
        confirmSent(frame.client_id, frame.message, shown);
        updateConversation(frame.message);
        break;
      }
      case "error": {
        const entry = frame.client_id ? pending.get(frame.client_id) : null;
        if (entry) {
          pending.delete(frame.client_id);
          saveOutbox();
          if (entry.li) failed(entry, frame.message);
        }
        break;
      }
      case "typing":
        if (frame.conversation_id !== undefined ? room !== null && frame.conversation_id === room.group : peer !== null && same(frame.from, peer)) {
          typingLine.textContent = frame.from + " is typing…";
          clearTimeout(typingTimer);
          typingTimer = setTimeout(() => { typingLine.textContent = ""; }, 5000);
        }
        break;
      case "read":
        if (same(frame.by, me)) {
          const li = conversationEntry(frame.with ? { user: frame.with } : { group: frame.conversation_id });
          if (li) setUnread(li, 0);
        } else if (peer !== null && same(frame.by, peer)) {
          peerRead = Math.max(peerRead, frame.up_to);
          for (const li of list.querySelectorAll("li.mine[data-id]")) {
            if (Number(li.dataset.id) <= peerRead) setStatus(li, "read");
          }
        }
        break;
      case "read_by":
        if (room !== null && frame.conversation_id === room.group) {
          for (const counted of frame.messages) {
            const li = list.querySelector('li.mine[data-id="' + counted.id + '"]');
            if (li) setReadBy(li, counted.read_by);
          }
        }
        break;
      case "presence":
        setPresence(frame.user, frame.online);
        break;
      case "resync":
        location.reload();
        break;
    }
  }

  // ---- sending -----------------------------------------------------------

  function failed(entry, reason) {
    setStatus(entry.li, "failed");
    entry.li.title = reason || "";
    if (entry.li.querySelector("button.retry")) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "retry";
    button.textContent = "Retry";
    button.addEventListener("click", () => {
      button.remove();
      const clientId = newClientId();
      pending.set(clientId, entry);
      saveOutbox();
      transmit(clientId, entry);
    });
    entry.li.append(button);
  }

  function newClientId() {
    return crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + "-" + Math.random().toString(16).slice(2);
  }

  function transmit(clientId, entry) {
    const frame = entry.group !== undefined && entry.group !== null
      ? { type: "send", conversation_id: entry.group, text: entry.text, client_id: clientId }
      : { type: "send", to: entry.to, text: entry.text, client_id: clientId };
    if (typeof entry.replyTo === "number") frame.reply_to = entry.replyTo;
    const open = connection.send(frame);
    if (entry.li) setStatus(entry.li, open ? "pending" : "queued");
  }

  // After (re)connecting: everything not yet acknowledged goes again under
  // its own client_id, so a message the server already has is not stored twice.
  function flushPending() {
    for (const [clientId, entry] of pending) transmit(clientId, entry);
  }

  // ---- connection --------------------------------------------------------

  function setConnection(state) {
    app.dataset.connection = state;
    banner.hidden = state !== "offline";
  }

  const connection = new Connection({
    resume: () => (cursor ? "cursor=" + encodeURIComponent(cursor) : "since=" + lastId),
    onFrame,
    onOffline() {
      setConnection("offline");
      for (const entry of pending.values()) if (entry.li) setStatus(entry.li, "queued");
    },
    onSessionEnded() { location.assign(loginUrl()); },
  });

  // ---- search ------------------------------------------------------------

  let searchSeq = 0;
  let searchTimer = null;

  function leaveSearch() {
    searchSeq += 1;
    results.hidden = true;
    results.replaceChildren();
    list.hidden = false;
    searchNote.hidden = true;
    scrollToEnd();
  }

  async function liveSearch(term) {
    const seq = ++searchSeq;
    let page;
    try {
      const response = await fetch(messagesUrl + "?limit=200&search=" + encodeURIComponent(term), { credentials: "same-origin" });
      page = await response.json();
      if (!response.ok) throw new Error(page.error ? page.error.message : String(response.status));
    } catch (error) {
      if (seq !== searchSeq) return;
      searchNote.replaceChildren(document.createTextNode("Search failed: " + error.message));
      searchNote.hidden = false;
      return;
    }
    if (seq !== searchSeq) return;
    const fragment = document.createDocumentFragment();
    for (const message of page.messages) fragment.append(messageItem(message, same(message.from, me), term));
    results.replaceChildren(fragment);
    separateDays(results);
    const count = page.messages.length;
    const back = document.createElement("button");
    back.type = "button";
    back.className = "link";
    back.textContent = "Back to the conversation";
    back.addEventListener("click", () => {
      document.getElementById("search").value = "";
      leaveSearch();
    });
    searchNote.replaceChildren(
      document.createTextNode((count === 0 ? "No messages" : count === 1 ? "1 message" : count + (page.has_more ? "+ messages" : " messages")) + " containing “" + term + "”. "),
      back,
    );
    searchNote.hidden = false;
    list.hidden = true;
    results.hidden = false;
    results.scrollTop = results.scrollHeight;
  }

  if (searchForm && !serverSearch) {
    const input = document.getElementById("search");
    searchForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const term = input.value.trim();
      if (term) liveSearch(term);
      else leaveSearch();
    });
    input.addEventListener("input", () => {
      clearTimeout(searchTimer);
      const term = input.value.trim();
      searchTimer = setTimeout(() => (term ? liveSearch(term) : leaveSearch()), 250);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        input.value = "";
        leaveSearch();
      }
    });
  }

  // ---- the people directory ----------------------------------------------

  const directory = document.getElementById("directory");
  const users = document.getElementById("users");
  let directorySeq = 0;
  let directoryTimer = null;
  directory.addEventListener("input", () => {
    clearTimeout(directoryTimer);
    directoryTimer = setTimeout(async () => {
      const seq = ++directorySeq;
      try {
        const response = await fetch(url("/api/users?limit=20&q=") + encodeURIComponent(directory.value.trim()), { credentials: "same-origin" });
        const found = await response.json();
        if (seq !== directorySeq || !response.ok) return;
        users.replaceChildren(...found.users.map((user) => {
          const li = document.createElement("li");
          const a = document.createElement("a");
          a.href = url("/chat/" + encodeURIComponent(user.username) + "/");
          a.textContent = user.username;
          li.append(a);
          return li;
        }));
        if (found.users.length === 0) {
          const li = document.createElement("li");
          li.className = "none";
          li.textContent = "Nobody by that name.";
          users.append(li);
        }
      } catch (_) {
        // Offline: the list stays as it was.
      }
    }, 200);
  });
  directory.closest("form").addEventListener("submit", (event) => {
    event.preventDefault();
    const first = users.querySelector("a");
    if (first) location.assign(first.href);
  });

  // ---- start -------------------------------------------------------------

  document.querySelectorAll("time[datetime]").forEach(localizeTime);
  if (list) {
    for (const li of list.querySelectorAll("li.message[data-id]")) {
      seen.add(Number(li.dataset.id));
      if (li.classList.contains("mine")) ownStatus(li, li.dataset.readBy === undefined ? undefined : Number(li.dataset.readBy));
    }
    if (serverSearch) {
      for (const text of list.querySelectorAll("li.message .text")) {
        const raw = text.textContent;
        text.replaceChildren();
        appendHighlighted(text, raw, serverSearch);
      }
    }
    separateDays(list);
    scrollToEnd();
    list.addEventListener("scroll", () => {
      if (list.scrollTop < 120) loadOlder();
      if (atBottom()) {
        jump.hidden = true;
        markRead();
      }
    });
    jump.addEventListener("click", () => { scrollToEnd(); markRead(); });
    fillViewport();
  }

  if (form) {
    const input = document.getElementById("text");
    // Ready to type on a desktop; a phone's keyboard opens only when asked.
    if (window.matchMedia("(pointer: fine)").matches) input.focus();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      // A message sent ends the typing it announced: the next keystroke
      // announces typing again.
      lastTypingSent = 0;
      if (editing) {
        connection.send({ type: "edit", id: editing.id, text });
        endComposerMode();
        return;
      }
      const clientId = newClientId();
      const quote = replyTo ? { id: replyTo.id, from: replyTo.from, text: replyTo.text.slice(0, 100) } : null;
      const entry = room.group !== undefined
        ? { group: room.group, text, li: messageItem({ from: me, text, reply_to: quote }, true) }
        : { to: peer, text, li: messageItem({ from: me, text, reply_to: quote }, true) };
      if (replyTo) entry.replyTo = replyTo.id;
      endComposerMode();
      pending.set(clientId, entry);
      saveOutbox();
      appendMessageItem(entry.li);
      scrollToEnd();
      transmit(clientId, entry);
    });
    document.getElementById("composer-cancel")?.addEventListener("click", () => {
      if (editing) input.value = "";
      endComposerMode();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    input.addEventListener("input", () => {
      const now = Date.now();
      const frame = room.group !== undefined ? { type: "typing", conversation_id: room.group } : { type: "typing", to: peer };
      if (input.value && now - lastTypingSent > 3000 && connection.send(frame)) lastTypingSent = now;
    });
  }

  // Blocking: no direct message passes between the two. The page learns
  // whom the user blocks once; in a group, their messages are hidden.
  const blockButton = document.getElementById("block");
  function showBlocked() {
    if (blockButton && peer !== null) {
      const on = blocks.has(peer);
      blockButton.setAttribute("aria-pressed", String(on));
      blockButton.textContent = on ? "Unblock" : "Block";
    }
    for (const li of document.querySelectorAll("#messages li.message")) markBlocked(li);
  }
  getJson("/api/blocks").then((result) => {
    for (const block of result.data?.blocks || []) blocked.add(block.username);
    showBlocked();
  }).catch(() => {});
  blockButton?.addEventListener("click", () => blocks.toggle(peer));

  // Muting the open room: no notifications of it reach the user
  // elsewhere (push, email) until they unmute it.
  const muteButton = document.getElementById("mute");
  muteButton?.addEventListener("click", async () => {
    const muted = muteButton.getAttribute("aria-pressed") === "true";
    const path = "/api/mutes/" + muteButton.dataset.conversation;
    const result = muted ? await request("DELETE", path) : await request("PUT", path, {});
    if (!result.ok) return;
    muteButton.setAttribute("aria-pressed", String(!muted));
    muteButton.textContent = muted ? "Mute" : "Unmute";
  });

  document.getElementById("logout")?.addEventListener("click", async () => {
    connection.leaving = true;
    await postJson("/api/logout", {});
    connection.close();
    location.assign(loginUrl());
  });
  // What an earlier page of this tab sent but never saw acknowledged goes
  // again, under the same client ids: the server stores each at most once.
  for (const saved of loadOutbox()) {
    if (!saved || typeof saved.clientId !== "string" || typeof saved.text !== "string") continue;
    if (typeof saved.to !== "string" && typeof saved.group !== "number") continue;
    const entry = typeof saved.group === "number"
      ? { group: saved.group, text: saved.text, li: null }
      : { to: saved.to, text: saved.text, li: null };
    if (typeof saved.replyTo === "number") entry.replyTo = saved.replyTo;
    if (list && !serverSearch && forThisRoom(entry)) {
      entry.li = messageItem({ from: me, text: saved.text }, true);
      setStatus(entry.li, "queued");
      appendMessageItem(entry.li);
    }
    pending.set(saved.clientId, entry);
  }
  if (list) {
    for (const li of list.querySelectorAll("li.message")) decorate(li);
    // A reaction's button toggles the reader's own.
    list.addEventListener("click", (event) => {
      const chip = event.target.closest(".reaction");
      const li = chip?.closest("li.message[data-id]");
      if (li && form && !li.classList.contains("deleted")) react(li, chip.dataset.emoji);
    });
    scrollToEnd();
  }

  window.addEventListener("focus", markRead);
  document.addEventListener("visibilitychange", markRead);
  newGroupForm();
  groupDirectory();
  invitations();
  connection.connect();
}
