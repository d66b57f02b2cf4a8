// The chat's web UI. No framework, no build step, no inline script (the
// CSP forbids it). User text only ever reaches the page as text nodes.
"use strict";

(function () {
  const page = document.body.dataset.page;

  async function postJson(url, body, headers) {
    const response = await fetch(url, {
      method: "POST",
      headers: Object.assign({ "Content-Type": "application/json" }, headers || {}),
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    return { ok: response.ok, status: response.status, data };
  }

  function showFormError(message) {
    const el = document.getElementById("form-error");
    el.textContent = message;
    el.hidden = false;
  }

  function errorText(result) {
    if (result.data && result.data.error) return result.data.error.message;
    return "Something went wrong (" + result.status + ").";
  }

  function formValues(form) {
    const values = {};
    new FormData(form).forEach((value, key) => { values[key] = String(value); });
    return values;
  }

  if (page === "login") {
    document.getElementById("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await postJson("/api/login", formValues(event.target));
      if (result.ok) location.assign("/chat/");
      else showFormError(errorText(result));
    });
  }

  if (page === "signup") {
    document.getElementById("signup-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const values = formValues(event.target);
      const result = await postJson("/api/signup", values);
      if (!result.ok) return showFormError(errorText(result));
      const login = await postJson("/api/login", { username: values.username, password: values.password });
      location.assign(login.ok ? "/chat/" : "/login");
    });
  }

  if (page === "chat") chatPage();

  // The chat page: server-rendered first, then live over the WebSocket.
  function chatPage() {
    const app = document.getElementById("app");
    const me = app.dataset.me;
    const peer = app.dataset.peer || null;
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
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
    const same = (a, b) => a.toLowerCase() === b.toLowerCase();
    const seen = new Set();
    // Sent but not yet acknowledged: client_id -> { to, text, li }, where
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
    let socket = null;
    let retry = 0;
    let reconnectTimer = null;
    let typingTimer = null;
    let lastTypingSent = 0;
    let readSent = 0;
    // Set once the page is going away (logout, navigation): a socket closed
    // then is not a connection lost.
    let leaving = false;
    window.addEventListener("pagehide", () => { leaving = true; });
    // Back from the back-forward cache: its socket is gone, start afresh.
    window.addEventListener("pageshow", (event) => { if (event.persisted) location.reload(); });

    // ---- rendering -------------------------------------------------------

    const timeFormat = new Intl.DateTimeFormat([], { timeStyle: "short" });
    const dayFormat = new Intl.DateTimeFormat([], { weekday: "long", day: "numeric", month: "long", year: "numeric" });
    const shortDate = new Intl.DateTimeFormat([], { dateStyle: "short" });

    function dayKey(date) {
      return date.getFullYear() + "-" + (date.getMonth() + 1) + "-" + date.getDate();
    }

    function dayLabel(date) {
      const today = new Date();
      const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
      if (dayKey(date) === dayKey(today)) return "Today";
      if (dayKey(date) === dayKey(yesterday)) return "Yesterday";
      return dayFormat.format(date);
    }

    // A message's <time>: the time of day in the viewer's zone, the full
    // date on hover. A conversation's: the time if today, else the date.
    function localizeTime(el) {
      const date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      const today = dayKey(date) === dayKey(new Date());
      el.textContent = el.classList.contains("when") && !today ? shortDate.format(date) : timeFormat.format(date);
      el.title = date.toLocaleString();
    }

    // Appends `text` to `parent` as text nodes, with every case-insensitive
    // occurrence of `term` in a <mark>. Never parses user text as HTML.
    function appendHighlighted(parent, text, term) {
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

    function messageItem(message, mine, term) {
      const li = document.createElement("li");
      li.className = "message" + (mine ? " mine" : "");
      const from = document.createElement("span");
      from.className = "from";
      from.textContent = message.from;
      const text = document.createElement("p");
      text.className = "text";
      appendHighlighted(text, message.text, term || "");
      const time = document.createElement("time");
      time.setAttribute("datetime", message.sent_at || new Date().toISOString());
      localizeTime(time);
      const status = document.createElement("span");
      status.className = "status";
      li.append(from, text, time, status);
      if (message.id) li.dataset.id = String(message.id);
      return li;
    }

    function dayOf(li) {
      const time = li.querySelector("time");
      return time ? new Date(time.getAttribute("datetime")) : new Date();
    }

    function daySeparator(date) {
      const li = document.createElement("li");
      li.className = "day";
      li.setAttribute("role", "separator");
      li.dataset.day = dayKey(date);
      li.textContent = dayLabel(date);
      return li;
    }

    // Puts a day heading before the first message of every local day.
    function separateDays(target) {
      for (const old of target.querySelectorAll("li.day")) old.remove();
      let previous = null;
      for (const li of [...target.querySelectorAll("li.message")]) {
        const date = dayOf(li);
        if (dayKey(date) !== previous) li.before(daySeparator(date));
        previous = dayKey(date);
      }
    }

    function appendMessageItem(li) {
      const messages = list.querySelectorAll("li.message");
      const last = messages[messages.length - 1];
      const date = dayOf(li);
      if (!last || dayKey(dayOf(last)) !== dayKey(date)) list.append(daySeparator(date));
      list.append(li);
    }

    const STATUS_TEXT = { queued: "waiting for connection", pending: "sending…", sent: "sent", read: "read", failed: "not sent" };

    function setStatus(li, status) {
      li.dataset.status = status;
      li.querySelector(".status").textContent = STATUS_TEXT[status] || "";
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
        const response = await fetch(
          "/api/conversations/" + encodeURIComponent(peer) + "/messages?limit=50&before=" + before,
          { credentials: "same-origin" },
        );
        if (!response.ok) return;
        const page = await response.json();
        const height = list.scrollHeight;
        const top = list.scrollTop;
        const fragment = document.createDocumentFragment();
        for (const message of page.messages) {
          if (seen.has(message.id)) continue;
          seen.add(message.id);
          const li = messageItem(message, same(message.from, me));
          if (same(message.from, me)) setStatus(li, message.id <= peerRead ? "read" : "sent");
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

    function conversationEntry(user) {
      return [...conversations.children].find((el) => same(el.dataset.user, user));
    }

    function newConversationEntry(user) {
      const li = document.createElement("li");
      li.dataset.user = user;
      li.dataset.online = "false";
      const a = document.createElement("a");
      a.href = "/chat/" + encodeURIComponent(user) + "/";
      const name = document.createElement("span");
      name.className = "name";
      const dot = document.createElement("span");
      dot.className = "presence";
      dot.setAttribute("role", "img");
      dot.setAttribute("aria-label", "offline");
      name.append(dot, document.createTextNode(user));
      const when = document.createElement("time");
      when.className = "when";
      const preview = document.createElement("span");
      preview.className = "preview";
      const unread = document.createElement("span");
      unread.className = "unread";
      unread.hidden = true;
      unread.textContent = "0";
      a.append(name, when, preview, unread);
      li.append(a);
      if (peer !== null && same(user, peer)) li.classList.add("active");
      return li;
    }

    function setUnread(li, count) {
      const badge = li.querySelector(".unread");
      badge.textContent = String(count);
      badge.setAttribute("aria-label", count + " unread");
      badge.hidden = count === 0;
    }

    function viewing(user) {
      return peer !== null && same(user, peer) && !serverSearch && document.hasFocus() && document.visibilityState === "visible";
    }

    function updateConversation(message) {
      const mine = same(message.from, me);
      const other = mine ? message.to : message.from;
      const li = conversationEntry(other) || newConversationEntry(other);
      if (Number(li.dataset.lastId || 0) > message.id) return;
      li.dataset.lastId = String(message.id);
      li.querySelector(".preview").textContent = message.text.split("\n")[0].slice(0, 60);
      const when = li.querySelector(".when");
      when.setAttribute("datetime", message.sent_at);
      localizeTime(when);
      if (!mine && !viewing(other)) setUnread(li, Number(li.querySelector(".unread").textContent || "0") + 1);
      conversations.prepend(li);
    }

    function setPresence(user, online) {
      const li = conversationEntry(user);
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
      return peer !== null && !serverSearch && (same(message.from, peer) || same(message.to, peer));
    }

    function saveOutbox() {
      try {
        const entries = [...pending].map(([clientId, entry]) => ({ clientId, to: entry.to, text: entry.text }));
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
      return true;
    }

    function showMessage(message) {
      if (seen.has(message.id)) return;
      seen.add(message.id);
      lastId = Math.max(lastId, message.id);
      updateConversation(message);
      const mine = same(message.from, me);
      // A replayed copy of a message this page sent but never saw acked.
      if (mine && message.client_id && confirmSent(message.client_id, message)) return;
      if (!inThisRoom(message)) {
        if (!mine) announce(message);
        return;
      }
      if (!mine) {
        clearTimeout(typingTimer);
        typingLine.textContent = "";
        announce(message);
      }
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

    function announce(message) {
      announcer.textContent = "";
      announcer.textContent = "New message from " + message.from + ": " + message.text.slice(0, 200);
    }

    // Only what the reader can see counts as read: the conversation open,
    // the tab visible and focused, the view at its newest message.
    function markRead() {
      if (peer === null || !viewing(peer) || !atBottom()) return;
      const fromPeer = list.querySelectorAll("li.message[data-id]:not(.mine)");
      const newest = fromPeer.length ? Number(fromPeer[fromPeer.length - 1].dataset.id) : 0;
      if (newest > readSent && socket && socket.readyState === WebSocket.OPEN) {
        readSent = newest;
        socket.send(JSON.stringify({ type: "read", with: peer, up_to: newest }));
      }
      const li = conversationEntry(peer);
      if (li) setUnread(li, 0);
    }

    function onFrame(frame) {
      if (typeof frame.cursor === "string") cursor = frame.cursor;
      switch (frame.type) {
        case "ready":
          retry = 0;
          setConnection("online");
          flushPending();
          markRead();
          break;
        case "message":
          showMessage(frame.message);
          break;
        case "ack": {
          const shown = seen.has(frame.message.id);
          seen.add(frame.message.id);
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
          if (peer !== null && same(frame.from, peer)) {
            typingLine.textContent = frame.from + " is typing…";
            clearTimeout(typingTimer);
            typingTimer = setTimeout(() => { typingLine.textContent = ""; }, 5000);
          }
          break;
        case "read":
          if (same(frame.by, me)) {
            const li = conversationEntry(frame.with);
            if (li) setUnread(li, 0);
          } else if (peer !== null && same(frame.by, peer)) {
            peerRead = Math.max(peerRead, frame.up_to);
            for (const li of list.querySelectorAll("li.mine[data-id]")) {
              if (Number(li.dataset.id) <= peerRead) setStatus(li, "read");
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
      const open = socket && socket.readyState === WebSocket.OPEN;
      if (open) socket.send(JSON.stringify({ type: "send", to: entry.to, text: entry.text, client_id: clientId }));
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

    async function sessionEnded() {
      try {
        const response = await fetch("/api/me", { credentials: "same-origin" });
        return response.status === 401;
      } catch (_) {
        return false;
      }
    }

    function connect() {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const resume = cursor ? "cursor=" + encodeURIComponent(cursor) : "since=" + lastId;
      socket = new WebSocket(scheme + location.host + "/ws?" + resume);
      socket.addEventListener("message", (event) => {
        let frame;
        try { frame = JSON.parse(event.data); } catch (_) { return; }
        onFrame(frame);
      });
      socket.addEventListener("close", async (event) => {
        if (leaving) return;
        setConnection("offline");
        for (const entry of pending.values()) if (entry.li) setStatus(entry.li, "queued");
        if ((event.code === 1008 || retry >= 2) && await sessionEnded()) {
          if (!leaving) {
            leaving = true;
            location.assign("/login");
          }
          return;
        }
        // Exponential back-off with jitter, so a restarted server is not
        // met by every client at the same instant.
        const delay = Math.min(15000, 500 * 2 ** retry) * (0.5 + Math.random() / 2);
        retry = Math.min(retry + 1, 6);
        reconnectTimer = setTimeout(connect, delay);
      });
    }

    window.addEventListener("online", () => { if (reconnectTimer) connect(); });

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
        const response = await fetch(
          "/api/conversations/" + encodeURIComponent(peer) + "/messages?limit=200&search=" + encodeURIComponent(term),
          { credentials: "same-origin" },
        );
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
          const response = await fetch("/api/users?limit=20&q=" + encodeURIComponent(directory.value.trim()), { credentials: "same-origin" });
          const found = await response.json();
          if (seq !== directorySeq || !response.ok) return;
          users.replaceChildren(...found.users.map((user) => {
            const li = document.createElement("li");
            const a = document.createElement("a");
            a.href = "/chat/" + encodeURIComponent(user.username) + "/";
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
        if (li.classList.contains("mine")) setStatus(li, Number(li.dataset.id) <= peerRead ? "read" : "sent");
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
        const clientId = newClientId();
        const entry = { to: peer, text, li: messageItem({ from: me, text }, true) };
        pending.set(clientId, entry);
        saveOutbox();
        appendMessageItem(entry.li);
        scrollToEnd();
        transmit(clientId, entry);
      });
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
      input.addEventListener("input", () => {
        const now = Date.now();
        if (input.value && now - lastTypingSent > 3000 && socket && socket.readyState === WebSocket.OPEN) {
          lastTypingSent = now;
          socket.send(JSON.stringify({ type: "typing", to: peer }));
        }
      });
    }

    document.getElementById("logout").addEventListener("click", async () => {
      leaving = true;
      await postJson("/api/logout", {}, { "X-CSRF-Token": csrf });
      if (socket) socket.close();
      location.assign("/login");
    });
    // What an earlier page of this tab sent but never saw acknowledged goes
    // again, under the same client ids: the server stores each at most once.
    for (const saved of loadOutbox()) {
      if (!saved || typeof saved.clientId !== "string" || typeof saved.to !== "string" || typeof saved.text !== "string") continue;
      const entry = { to: saved.to, text: saved.text, li: null };
      if (list && peer !== null && !serverSearch && same(saved.to, peer)) {
        entry.li = messageItem({ from: me, text: saved.text }, true);
        setStatus(entry.li, "queued");
        appendMessageItem(entry.li);
      }
      pending.set(saved.clientId, entry);
    }
    if (list) scrollToEnd();

    window.addEventListener("focus", markRead);
    document.addEventListener("visibilitychange", markRead);
    connect();
  }
})();
