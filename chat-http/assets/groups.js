// Group screens: making a group, invitations, and a group's member panel
// (who is in it and online, adding, removing, leaving).

import { errorText, getJson, postJson, request, url } from "./api.js";
import { same, showError } from "./dom.js";

/** The "New group" form: a title and members by name, comma-separated. */
export function newGroupForm() {
  const form = document.getElementById("new-group");
  if (!form) return;
  const error = document.getElementById("new-group-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = document.getElementById("group-title").value;
    const members = document.getElementById("group-members").value
      .split(",").map((name) => name.trim()).filter(Boolean);
    const result = await postJson("/api/groups", { title, members });
    if (!result.ok) return showError(error, errorText(result));
    location.assign(url("/groups/" + result.data.conversation.id + "/"));
  });
}

/** The invitations not answered yet, each with a button that joins. */
export async function invitations() {
  const list = document.getElementById("invitations");
  const heading = document.getElementById("invitations-heading");
  if (!list) return;
  let found;
  try {
    found = await getJson("/api/invitations");
  } catch (_) {
    return;
  }
  if (!found.ok) return;
  list.replaceChildren(...found.data.invitations.map((invitation) => {
    const li = document.createElement("li");
    li.dataset.group = String(invitation.id);
    const text = document.createElement("span");
    text.textContent = invitation.title + " (from " + invitation.invited_by + ")";
    const join = document.createElement("button");
    join.type = "button";
    join.textContent = "Join";
    join.addEventListener("click", async () => {
      const joined = await postJson("/api/groups/" + invitation.id + "/join", {});
      if (joined.ok) location.assign(url("/groups/" + invitation.id + "/"));
      else text.textContent = errorText(joined);
    });
    li.append(text, join);
    return li;
  }));
  const any = found.data.invitations.length > 0;
  list.hidden = !any;
  heading.hidden = !any;
}

/**
 * The member panel of the group `id` for `me`: members with their role
 * and whether they are online (asked for when the panel opens, and every
 * 30 s while it is open), blocking anyone, adding, removing and banning
 * for admins (with the bans and the slow mode), leaving. `blocks` is the
 * page's view of whom the user blocks: `has(name)` and `toggle(name)`.
 */
export function memberPanel(id, me, blocks) {
  const toggle = document.getElementById("members-toggle");
  const panel = document.getElementById("members-panel");
  const list = document.getElementById("members");
  const count = document.getElementById("member-count");
  const error = document.getElementById("members-error");
  const bans = document.getElementById("bans");
  const bansHeading = document.getElementById("bans-heading");
  const slowMode = document.getElementById("slow-mode");
  const base = "/api/groups/" + id;
  let timer = null;

  const linkButton = (label, aria, run) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = label;
    button.setAttribute("aria-label", aria);
    button.addEventListener("click", () => run(button));
    return button;
  };

  // Changes by a call that answers the group: shown, or the error said.
  async function change(method, path, body) {
    const result = await request(method, path, body);
    if (!result.ok) return showError(error, errorText(result));
    showError(error, "");
    if (result.data?.conversation) render(result.data.conversation);
    else refresh();
  }

  function renderBans(group) {
    if (!bans) return;
    bans.replaceChildren(...(group.bans || []).map((ban) => {
      const li = document.createElement("li");
      li.dataset.user = ban.username;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = ban.username + (ban.until ? " (until " + new Date(ban.until).toLocaleString() + ")" : "");
      li.append(name, linkButton("Lift ban", "Lift the ban on " + ban.username,
        () => change("DELETE", base + "/bans/" + encodeURIComponent(ban.username))));
      return li;
    }));
    const any = (group.bans || []).length > 0;
    bans.hidden = !any;
    bansHeading.hidden = !any;
    if (slowMode) slowMode.value = group.slow_mode_seconds ? String(group.slow_mode_seconds) : "";
  }

  function render(group) {
    renderBans(group);
    count.textContent = String(group.members.length);
    const mayRemove = (role) => group.role === "owner" ? role !== "owner" : group.role === "admin" && role === "member";
    list.replaceChildren(...group.members.map((member) => {
      const li = document.createElement("li");
      li.dataset.user = member.username;
      li.dataset.online = String(member.online);
      const dot = document.createElement("span");
      dot.className = "presence";
      dot.setAttribute("role", "img");
      dot.setAttribute("aria-label", member.online ? "online" : "offline");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = member.username;
      const role = document.createElement("span");
      role.className = "role";
      role.textContent = member.role === "member" ? "" : member.role;
      li.append(dot, name, role);
      if (same(member.username, me)) return li;
      const blocked = blocks.has(member.username);
      const block = linkButton(blocked ? "Unblock" : "Block", (blocked ? "Unblock " : "Block ") + member.username,
        async (button) => {
          if (!await blocks.toggle(member.username)) return;
          const now = blocks.has(member.username);
          button.textContent = now ? "Unblock" : "Block";
          button.setAttribute("aria-label", (now ? "Unblock " : "Block ") + member.username);
        });
      block.classList.add("block");
      li.append(block);
      if (mayRemove(member.role)) {
        const remove = linkButton("Remove", "Remove " + member.username,
          () => change("DELETE", base + "/members/" + encodeURIComponent(member.username)));
        remove.classList.add("remove");
        // Two clicks: the first asks, the second bans (until lifted).
        const ban = linkButton("Ban", "Ban " + member.username, (button) => {
          if (button.dataset.confirm !== "true") {
            button.dataset.confirm = "true";
            button.textContent = "Ban until lifted?";
            setTimeout(() => { button.dataset.confirm = "false"; button.textContent = "Ban"; }, 4000);
            return;
          }
          change("PUT", base + "/bans/" + encodeURIComponent(member.username), {});
        });
        li.append(remove, ban);
      }
      return li;
    }));
    for (const name of group.invited) {
      const li = document.createElement("li");
      li.className = "invited";
      li.textContent = name + " (invited)";
      list.append(li);
    }
  }

  async function refresh() {
    try {
      const result = await getJson(base);
      if (result.ok) render(result.data.conversation);
    } catch (_) {
      // Offline: the panel stays as it was.
    }
  }

  toggle.addEventListener("click", () => {
    const open = panel.hidden;
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    clearInterval(timer);
    if (open) {
      refresh();
      timer = setInterval(refresh, 30000);
    }
  });

  slowMode?.addEventListener("change", () => {
    const seconds = slowMode.value ? Number(slowMode.value) : null;
    change("PATCH", base, { slow_mode_seconds: seconds });
  });

  const add = document.getElementById("add-member-form");
  if (add) {
    add.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = document.getElementById("add-member");
      const result = await postJson(base + "/members", { username: input.value.trim() });
      if (!result.ok) return showError(error, errorText(result));
      showError(error, "");
      input.value = "";
      render(result.data.conversation);
    });
  }

  document.getElementById("leave-group").addEventListener("click", async () => {
    const result = await request("DELETE", base + "/members/" + encodeURIComponent(me));
    if (result.ok) location.assign(url("/chat/"));
    else showError(error, errorText(result));
  });

  // A change of membership heard live: the panel, if open, follows it.
  return { changed() { if (!panel.hidden) refresh(); } };
}

/** The group directory: discoverable groups by name, each joined with a
 * click. */
export function groupDirectory() {
  const input = document.getElementById("group-search");
  const results = document.getElementById("group-results");
  if (!input) return;
  let seq = 0;
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const term = input.value.trim();
    timer = setTimeout(async () => {
      const mine = ++seq;
      if (!term) return results.replaceChildren();
      let found;
      try {
        found = await getJson("/api/groups?limit=20&q=" + encodeURIComponent(term));
      } catch (_) {
        return;
      }
      if (mine !== seq || !found.ok) return;
      results.replaceChildren(...found.data.groups.map((group) => {
        const li = document.createElement("li");
        li.dataset.group = String(group.id);
        const join = document.createElement("button");
        join.type = "button";
        join.className = "link";
        join.textContent = group.title + " (" + group.member_count + ")";
        join.setAttribute("aria-label", "Join " + group.title);
        join.addEventListener("click", async () => {
          const joined = await postJson("/api/groups/" + group.id + "/join", {});
          if (joined.ok) location.assign(url("/groups/" + group.id + "/"));
        });
        li.append(join);
        return li;
      }));
      if (found.data.groups.length === 0) {
        const li = document.createElement("li");
        li.className = "none";
        li.textContent = "No group by that name.";
        results.append(li);
      }
    }, 200);
  });
  input.closest("form").addEventListener("submit", (event) => event.preventDefault());
}

/** The title of the group `id`, for a list entry of a group the page did
 * not render (one joined since). */
export async function groupTitle(id) {
  try {
    const result = await getJson("/api/groups/" + id);
    return result.ok ? result.data.conversation.title : null;
  } catch (_) {
    return null;
  }
}
