// The chat's web UI: native ES modules served as they are, no framework,
// no build step, no inline script (the CSP forbids it). User text only
// ever reaches the page as text nodes.

import { errorText, formValues, postJson, url } from "./api.js";
import { chatPage } from "./chat.js";

const page = document.body.dataset.page;

function showFormError(message) {
  const el = document.getElementById("form-error");
  el.textContent = message;
  el.hidden = false;
}

if (page === "login") {
  document.getElementById("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await postJson("/api/login", formValues(event.target));
    if (result.ok) location.assign(url("/chat/"));
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
    location.assign(url(login.ok ? "/chat/" : "/login"));
  });
}

if (page === "chat") chatPage();
