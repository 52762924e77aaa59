/* Administration forms: each <form class="admin-form" data-method data-url> is sent as
   JSON to the admin API with the session cookie; the API's Spanish message is shown
   next to the form when it refuses, and the page reloads (or moves on) when it accepts. */
(function () {
  "use strict";

  function splitList(text, separator) {
    return text.split(separator).map(function (s) { return s.trim(); }).filter(Boolean);
  }

  /* "07:30-12:00, 14:00-18:00" -> [["07:30", "12:00"], ["14:00", "18:00"]] */
  function parseHours(text) {
    return splitList(text, ",").map(function (span) { return span.split("-").map(function (t) { return t.trim(); }); });
  }

  function collect(form) {
    if (form.dataset.body) return JSON.parse(form.dataset.body);
    const body = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      const dot = el.name.indexOf(".");
      const group = dot > 0 ? el.name.slice(0, dot) : null;
      const key = dot > 0 ? el.name.slice(dot + 1) : el.name;
      const value = (el.value || "").trim();
      if (group === "hours") {
        body.opening_hours = body.opening_hours || {};
        if (value) body.opening_hours[key] = parseHours(value);
      } else if (group === "weight") {
        body.services = body.services || {};
        if (value) body.services[key] = Number(value);
      } else if (el.type === "checkbox" && el.dataset.type === "set") {
        body[key] = body[key] || [];
        if (el.checked) body[key].push(el.value);
      } else if (el.type === "checkbox") {
        body[key] = el.checked;
      } else if (el.dataset.type === "lines") {
        body[key] = splitList(el.value, "\n");
      } else if (el.dataset.type === "list") {
        body[key] = splitList(el.value, ",");
      } else if (el.dataset.nullable !== undefined && !value) {
        body[key] = null;  // before "number": an empty optional number is null, not 0
      } else if (el.dataset.type === "number") {
        body[key] = Number(value);
      } else {
        body[key] = value;
      }
    }
    return body;
  }

  function showError(form, message) {
    const box = form.querySelector(".form-error");
    if (!box) { window.alert(message); return; }
    box.textContent = message;
    box.hidden = false;
  }

  async function submit(event) {
    const form = event.target.closest("form.admin-form");
    if (!form) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const button = form.querySelector("button[type=submit]");
    const box = form.querySelector(".form-error");
    if (box) box.hidden = true;
    if (button) button.disabled = true;
    try {
      const method = form.dataset.method;
      const result = await window.Turnero.api(method, form.dataset.url, method === "DELETE" ? undefined : collect(form));
      const next = form.dataset.next;
      if (next && result.data && result.data.code) {
        window.location.assign(next.replace("{code}", encodeURIComponent(result.data.code)));
      } else {
        // The reload shows what was saved; this says that it was (see showSaved).
        rememberSaved(form);
        window.location.reload();
      }
    } catch (err) {
      if (err.status === 401) { window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname)); return; }
      showError(form, err.message);
      if (button) button.disabled = false;
    }
  }

  const SAVED_KEY = "turnero.admin.saved";

  function rememberSaved(form) {
    try {
      window.sessionStorage.setItem(SAVED_KEY, JSON.stringify({
        path: window.location.pathname, form: form.id || "",
        message: form.dataset.saved || (form.dataset.method === "DELETE" ? "Eliminado" : "Cambios guardados"),
      }));
    } catch (err) { /* storage off: the reload alone shows the change */ }
  }

  /* After the reload: «Cambios guardados» next to the form that was sent (or at the top
     of the page when that form is gone, e.g. a deleted desk's row). */
  function showSaved() {
    let saved = null;
    try {
      saved = JSON.parse(window.sessionStorage.getItem(SAVED_KEY) || "null");
      window.sessionStorage.removeItem(SAVED_KEY);
    } catch (err) { return; }
    if (!saved || saved.path !== window.location.pathname) return;
    const note = document.createElement("p");
    note.className = "form-saved";
    note.setAttribute("role", "status");
    note.textContent = saved.message;
    const form = saved.form && document.getElementById(saved.form);
    const button = form && form.querySelector("button[type=submit]");
    if (button) {
      button.insertAdjacentElement("afterend", note);
    } else {
      const main = document.querySelector("main") || document.body;
      main.insertBefore(note, main.firstChild);
    }
  }

  document.addEventListener("submit", submit);
  showSaved();
})();
