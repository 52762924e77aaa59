/* Supervisor desk balancing: refreshes the view, applies a suggested move, and turns the
   server's automatic balancing on (at the threshold shown) or off. */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("bal-data").textContent);
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 15000;
  let busy = false;
  let autoChanges = 0;  // the box's changes made here (see refresh)

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function render(view) {
    const list = $("bal-suggestions");
    list.replaceChildren();
    if (!view.suggestions.length) {
      list.append(el("li", "Ninguna: todas las esperas estimadas están bajo el umbral.", "muted"));
    }
    for (const m of view.suggestions) {
      const li = el("li");
      li.append(el("span", m.message));
      const b = el("button", "Aplicar", "btn btn-primary btn-small");
      b.type = "button";
      b.dataset.desk = m.desk;
      b.dataset.service = m.to;
      li.append(b);
      list.append(li);
    }
    const body = $("bal-services").tBodies[0];
    body.replaceChildren();
    for (const s of view.services) {
      const tr = el("tr");
      if (s.estimated_wait_minutes !== null && s.estimated_wait_minutes > view.threshold_minutes) tr.className = "bal-hot";
      const name = el("td", s.name + " ");
      name.append(el("span", "(" + s.service + ")", "muted"));
      tr.append(name, el("td", s.waiting), el("td", s.open_desks), el("td", s.primary_desks),
        // The same words as the kiosk, the board and the ticket (eta-format.js).
        el("td", s.service_minutes), el("td", TurneroEta.line(s)), el("td", TurneroEta.line(s, true)));
      body.append(tr);
    }
    const desks = $("bal-desks").tBodies[0];
    desks.replaceChildren();
    for (const d of view.desks) {
      const tr = el("tr");
      const cell = el("td");
      for (const [code, w] of Object.entries(d.services)) {
        cell.append(el("span", code, w === 1 ? "svc svc-main" : "svc"), " ");
      }
      tr.append(el("td", d.name), el("td", boot.desk_status_es[d.status] || d.status), cell,
        el("td", d.next_pause || "—"));
      desks.append(tr);
    }
    $("bal-updated").textContent = "Actualizado " + view.computed_at.slice(11, 16);
  }

  function url() {
    const t = parseInt($("bal-threshold").value, 10);
    const q = Number.isFinite(t) && t >= 1 && t <= 600 ? "?threshold=" + t : "";
    return "/api/offices/" + encodeURIComponent(boot.office) + "/balancing" + q;
  }

  async function apply(desk, service) {
    const res = await Turnero.api("POST", "/api/offices/" + encodeURIComponent(boot.office) + "/balancing/apply",
      { desk, service });
    $("bal-message").textContent = "Ventanilla " + res.data.desk + " ahora atiende primero " + res.data.service + ".";
  }

  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const asked = autoChanges;
      const view = (await Turnero.api("GET", url())).data;
      // Another supervisor may have changed it; a read begun before this page's own
      // change does not know of it.
      if (asked === autoChanges) $("bal-auto").checked = view.auto_threshold_minutes !== null;
      render(view);
    } catch (e) {
      $("bal-message").textContent = e.message;
    } finally {
      busy = false;
    }
  }

  $("bal-suggestions").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-desk]");
    if (!b || busy) return;
    b.disabled = true;
    try {
      await apply(b.dataset.desk, b.dataset.service);
    } catch (e) {
      $("bal-message").textContent = e.message;
    }
    await refresh();
  });
  async function setAuto() {
    autoChanges += 1;
    const box = $("bal-auto");
    const t = parseInt($("bal-threshold").value, 10);
    if (box.checked && !(Number.isFinite(t) && t >= 1 && t <= 600)) {
      box.checked = false;
      $("bal-message").textContent = "Indique un umbral entre 1 y 600 minutos.";
      return;
    }
    try {
      const res = await Turnero.api("PUT", "/api/offices/" + encodeURIComponent(boot.office) + "/balancing/auto",
        { threshold_minutes: box.checked ? t : null });
      $("bal-message").textContent = res.data.auto_threshold_minutes === null
        ? "Balanceo automático desactivado: las sugerencias se aplican a mano."
        : "Balanceo automático activado: umbral de " + res.data.auto_threshold_minutes + " min.";
    } catch (e) {
      box.checked = !box.checked;
      $("bal-message").textContent = e.message;
    }
    autoChanges += 1;  // reads begun during the change are as stale as those before it
    await refresh();
  }

  $("bal-threshold").addEventListener("change", () => ($("bal-auto").checked ? setAuto() : refresh()));
  $("bal-auto").addEventListener("change", setAuto);
  setInterval(refresh, REFRESH_MS);
})();
