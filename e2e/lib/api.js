// The JSON API, for setting up what a test needs faster than typing it.
export const api = {
  /** Logs `person` in; returns a bearer token. */
  async login(server, person) {
    const response = await fetch(`${server.url}/api/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: person.name, password: person.password }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`login ${person.name}: ${JSON.stringify(body)}`);
    return body.token;
  },

  /** Sends `text` to `to` as the token's user. */
  async send(server, token, to, text) {
    return post(server, token, `/api/conversations/${encodeURIComponent(to)}/messages`, { text });
  },

  /** Sends `text` to the group `id` as the token's user. */
  async sendToGroup(server, token, id, text) {
    return post(server, token, `/api/groups/${id}/messages`, { text });
  },

  /** The token's user's mutes in force. */
  async mutes(server, token) {
    const response = await fetch(`${server.url}/api/mutes`, { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`mutes: ${response.status} ${await response.text()}`);
    return (await response.json()).mutes;
  },
};

/** POSTs `body` to `path` as the token's user; the message it answers. */
async function post(server, token, path, body) {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()).message;
}
