// Talking to the JSON API: every request same-origin, changes with their
// JSON body and the session's CSRF token.

/** The CSRF token the chat page was rendered with (empty elsewhere). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/**
 * Sends `method` to `url` with `body` as JSON (none for GET and DELETE)
 * and the CSRF token; answers `{ ok, status, data }`, never throws for an
 * HTTP error (a network failure does throw).
 */
export async function request(method, url, body) {
  const headers = { "X-CSRF-Token": csrfToken() };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  return { ok: response.ok, status: response.status, data };
}

export function postJson(url, body) {
  return request("POST", url, body || {});
}

export function getJson(url) {
  return request("GET", url);
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
