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

  function chatPage() {
    const app = document.getElementById("app");
    const me = app.dataset.me;
    const peer = app.dataset.peer || null;
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const list = document.getElementById("messages");
    const conversations = document.getElementById("conversations");
    const connState = document.getElementById("conn-state");
    const typingLine = document.getElementById("typing");
    const form = document.getElementById("send-form");
    const searching = new URLSearchParams(location.search).has("search");
    const seen = new Set();
    const pending = new Map(); // client_id -> { li, text }
    let lastId = Number(app.dataset.lastId) || 0;
    let socket = null;
    let retry = 0;
    let typingTimer = null;
    let lastTypingSent = 0;
    let readSent = 0;

    for (const li of document.querySelectorAll("#messages li[data-id]")) seen.add(Number(li.dataset.id));
    document.querySelectorAll("time[datetime]").forEach(localizeTime);
    scrollToEnd();

    function localizeTime(el) {
      const date = new Date(el.getAttribute("datetime"));
      if (!isNaN(date)) {
        el.textContent = date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
        el.title = date.toString();
      }
    }

    function scrollToEnd() {
      if (list) list.scrollTop = list.scrollHeight;
    }

    function setState(text, kind) {
      connState.textContent = text;
      connState.dataset.kind = kind;
    }

    function messageItem(message, mine) {
      const li = document.createElement("li");
      li.className = "message" + (mine ? " mine" : "");
      const from = document.createElement("span");
      from.className = "from";
      from.textContent = message.from;
      const text = document.createElement("p");
      text.className = "text";
      text.textContent = message.text;
      const time = document.createElement("time");
      time.setAttribute("datetime", message.sent_at || new Date().toISOString());
      localizeTime(time);
      const status = document.createElement("span");
      status.className = "status";
      li.append(from, text, time, status);
      if (message.id) li.dataset.id = String(message.id);
      return li;
    }

    function setStatus(li, status) {
      li.dataset.status = status;
      const el = li.querySelector(".status");
      el.textContent = { pending: "sending…", sent: "sent", read: "read", failed: "not sent" }[status] || "";
    }

    function inThisRoom(message) {
      return peer !== null && !searching && (message.from.toLowerCase() === peer.toLowerCase() || message.to.toLowerCase() === peer.toLowerCase());
    }

    function showMessage(message) {
      if (seen.has(message.id)) return;
      seen.add(message.id);
      lastId = Math.max(lastId, message.id);
      updateConversation(message);
      if (!inThisRoom(message)) return;
      const mine = message.from.toLowerCase() === me.toLowerCase();
      if (!mine) {
        clearTimeout(typingTimer);
        typingLine.textContent = "";
      }
      const li = messageItem(message, mine);
      if (mine) setStatus(li, "sent");
      list.append(li);
      scrollToEnd();
      markRead();
    }

    function updateConversation(message) {
      const mine = message.from.toLowerCase() === me.toLowerCase();
      const other = mine ? message.to : message.from;
      let li = [...conversations.children].find((el) => el.dataset.user.toLowerCase() === other.toLowerCase());
      if (!li) {
        li = document.createElement("li");
        li.dataset.user = other;
        const a = document.createElement("a");
        a.href = "/chat/" + encodeURIComponent(other) + "/";
        const name = document.createElement("span");
        name.className = "name";
        const dot = document.createElement("span");
        dot.className = "presence";
        dot.setAttribute("aria-label", "offline");
        name.append(dot, document.createTextNode(other));
        li.dataset.online = "false";
        const unread = document.createElement("span");
        unread.className = "unread";
        unread.hidden = true;
        unread.textContent = "0";
        const preview = document.createElement("span");
        preview.className = "preview";
        a.append(name, unread, preview);
        li.append(a);
      }
      li.dataset.lastId = String(message.id);
      li.querySelector(".preview").textContent = message.text.split("\n")[0].slice(0, 60);
      const viewing = peer !== null && other.toLowerCase() === peer.toLowerCase() && document.hasFocus();
      if (!mine && !viewing) {
        const badge = li.querySelector(".unread");
        badge.textContent = String(Number(badge.textContent || "0") + 1);
        badge.hidden = false;
      }
      conversations.prepend(li);
    }

    function clearUnread(user) {
      const li = [...conversations.children].find((el) => el.dataset.user.toLowerCase() === user.toLowerCase());
      if (li) {
        const badge = li.querySelector(".unread");
        badge.textContent = "0";
        badge.hidden = true;
      }
    }

    function markRead() {
      if (peer === null || !document.hasFocus() || document.visibilityState !== "visible") return;
      const fromPeer = [...list.querySelectorAll("li[data-id]:not(.mine)")];
      const newest = fromPeer.length ? Number(fromPeer[fromPeer.length - 1].dataset.id) : 0;
      if (newest > readSent && socket && socket.readyState === WebSocket.OPEN) {
        readSent = newest;
        socket.send(JSON.stringify({ type: "read", with: peer, up_to: newest }));
      }
      clearUnread(peer);
    }

    function onFrame(frame) {
      switch (frame.type) {
        case "ready":
          retry = 0;
          setState("", "online");
          flushPending();
          markRead();
          break;
        case "message":
          showMessage(frame.message);
          break;
        case "ack": {
          const entry = pending.get(frame.client_id);
          pending.delete(frame.client_id);
          seen.add(frame.message.id);
          lastId = Math.max(lastId, frame.message.id);
          if (entry) {
            entry.li.dataset.id = String(frame.message.id);
            setStatus(entry.li, "sent");
          }
          updateConversation(frame.message);
          break;
        }
        case "error": {
          const entry = frame.client_id ? pending.get(frame.client_id) : null;
          if (entry) {
            pending.delete(frame.client_id);
            failed(entry, frame.message);
          } else {
            setState(frame.message, "error");
          }
          break;
        }
        case "typing":
          if (peer !== null && frame.from.toLowerCase() === peer.toLowerCase()) {
            typingLine.textContent = frame.from + " is typing…";
            clearTimeout(typingTimer);
            typingTimer = setTimeout(() => { typingLine.textContent = ""; }, 4000);
          }
          break;
        case "read":
          if (frame.by.toLowerCase() === me.toLowerCase()) {
            clearUnread(frame.with);
          } else if (peer !== null && frame.by.toLowerCase() === peer.toLowerCase()) {
            for (const li of list.querySelectorAll("li.mine[data-id]")) {
              if (Number(li.dataset.id) <= frame.up_to) setStatus(li, "read");
            }
          }
          break;
        case "presence": {
          const li = [...conversations.children].find((el) => el.dataset.user.toLowerCase() === frame.user.toLowerCase());
          if (li) {
            li.dataset.online = String(frame.online);
            const dot = li.querySelector(".presence");
            if (dot) dot.setAttribute("aria-label", frame.online ? "online" : "offline");
          }
          break;
        }
        case "resync":
          location.reload();
          break;
      }
    }

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
        setStatus(entry.li, "pending");
        transmit(clientId, entry.text);
      });
      entry.li.append(button);
    }

    function newClientId() {
      return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + "-" + Math.random().toString(16).slice(2));
    }

    function transmit(clientId, text) {
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "send", to: peer, text, client_id: clientId }));
      }
    }

    function flushPending() {
      for (const [clientId, entry] of pending) transmit(clientId, entry.text);
    }

    function connect() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      socket = new WebSocket(scheme + location.host + "/ws?since=" + lastId);
      socket.addEventListener("message", (event) => {
        try { onFrame(JSON.parse(event.data)); } catch (_) { /* ignore a bad frame */ }
      });
      socket.addEventListener("close", (event) => {
        if (event.code === 1008 && /logged out|session/.test(event.reason)) {
          location.assign("/login");
          return;
        }
        const delay = Math.min(30000, 1000 * 2 ** retry) * (0.5 + Math.random() / 2);
        retry = Math.min(retry + 1, 5);
        setState("Reconnecting…", "offline");
        setTimeout(connect, delay);
      });
    }

    if (form) {
      const input = document.getElementById("text");
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        input.value = "";
        const clientId = newClientId();
        const li = messageItem({ from: me, text }, true);
        setStatus(li, "pending");
        list.append(li);
        scrollToEnd();
        pending.set(clientId, { li, text });
        transmit(clientId, text);
      });
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
      input.addEventListener("input", () => {
        const now = Date.now();
        if (now - lastTypingSent > 3000 && socket && socket.readyState === WebSocket.OPEN) {
          lastTypingSent = now;
          socket.send(JSON.stringify({ type: "typing", to: peer }));
        }
      });
    }

    document.getElementById("logout").addEventListener("click", async () => {
      await postJson("/api/logout", {}, { "X-CSRF-Token": csrf });
      location.assign("/login");
    });
    window.addEventListener("focus", markRead);
    document.addEventListener("visibilitychange", markRead);
    connect();
  }
})();
