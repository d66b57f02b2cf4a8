// The WebSocket: one per page, resumed from the cursor of the last change
// it delivered, reconnected with back-off, closed for good once the
// session is gone.

import { url } from "./api.js";

/** How often, at most, the page tells the server its person is there. */
const ACTIVE_EVERY_MS = 20000;

export class Connection {
  /**
   * `resume()` gives the query that resumes the stream; `onFrame(frame)`
   * gets every server frame; `onOffline()` runs when the connection drops
   * (it reconnects by itself); `onSessionEnded()` when it will not.
   */
  constructor({ resume, onFrame, onOffline, onSessionEnded }) {
    this.resume = resume;
    this.onFrame = onFrame;
    this.onOffline = onOffline;
    this.onSessionEnded = onSessionEnded;
    this.socket = null;
    this.retry = 0;
    this.timer = null;
    // Set once the page is going away (logout, navigation): a socket
    // closed then is not a connection lost.
    this.leaving = false;
    window.addEventListener("pagehide", () => { this.leaving = true; });
    window.addEventListener("online", () => { if (this.timer) this.connect(); });
    // While the page is in view and focused, its person counts as there:
    // the server holds offline notices back. An open tab in the
    // background does not count.
    this.lastActive = 0;
    const note = () => this.noteActive();
    document.addEventListener("visibilitychange", note);
    window.addEventListener("focus", note);
    document.addEventListener("keydown", note, { passive: true });
    document.addEventListener("pointerdown", note, { passive: true });
    setInterval(note, ACTIVE_EVERY_MS);
  }

  /** Tells the server the person is there, if the page is in view. */
  noteActive() {
    if (document.visibilityState !== "visible" || !document.hasFocus()) return;
    const now = Date.now();
    if (now - this.lastActive < ACTIVE_EVERY_MS) return;
    if (this.send({ type: "active" })) this.lastActive = now;
  }

  get open() {
    return Boolean(this.socket) && this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends `frame` if the socket is open; whether it did. */
  send(frame) {
    if (!this.open) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** The server said `ready`: the next drop starts its back-off afresh. */
  ready() {
    this.retry = 0;
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + url("/ws?") + this.resume());
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (_) { return; }
      this.onFrame(frame);
    });
    socket.addEventListener("close", async (event) => {
      if (this.leaving) return;
      this.onOffline();
      if ((event.code === 1008 || this.retry >= 2) && await sessionEnded()) {
        if (!this.leaving) {
          this.leaving = true;
          this.onSessionEnded();
        }
        return;
      }
      // Exponential back-off with jitter, so a restarted server is not
      // met by every client at the same instant.
      const delay = Math.min(15000, 500 * 2 ** this.retry) * (0.5 + Math.random() / 2);
      this.retry = Math.min(this.retry + 1, 6);
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  close() {
    this.leaving = true;
    if (this.socket) this.socket.close();
  }
}

async function sessionEnded() {
  try {
    const response = await fetch(url("/api/me"), { credentials: "same-origin" });
    return response.status === 401;
  } catch (_) {
    return false;
  }
}
