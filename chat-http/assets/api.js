// Talking to the JSON API: every request same-origin, changes with their
// JSON body and the session's CSRF token.

/**
 * `path` (absolute within the chat: "/api/me") as this page reaches it:
 * under the path the chat is mounted at, which the page names.
 */
export function url(path) {
  return (document.body.dataset.base || "") + path;
}

/** Where a visitor without a session goes to log in. */
export function loginUrl() {
  return document.body.dataset.login || url("/login");
}

/** The CSRF token the chat page was rendered with (empty elsewhere). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/**
 * Sends `method` to `path` (within the chat) with `body` as JSON (none for GET and DELETE)
 * and the CSRF token; answers `{ ok, status, data }`, never throws for an
 * HTTP error (a network failure does throw).
 */
export async function request(method, path, body) {
  const headers = { "X-CSRF-Token": csrfToken() };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url(path), init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  return { ok: response.ok, status: response.status, data };
}

export function postJson(path, body) {
  return request("POST", path, body || {});
}

export function getJson(path) {
  return request("GET", path);
}

/** The error's sentence for people. */
export function errorText(result) {
  if (result.data && result.data.error) return result.data.error.message;
  return "Something went wrong (" + result.status + ").";
}

export function formValues(form) {
  const values = {};
  new FormData(form).forEach((value, key) => { values[key] = String(value); });
  return values;
}
