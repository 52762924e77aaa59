/* Operator desk console: every button calls the JSON API, then the state is re-read. */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("desk-data").textContent);
  const REFRESH_SECONDS = 5;
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;
  const deskApi = "/api/offices/" + enc(boot.office) + "/desks/" + enc(boot.desk);
  const ticketApi = (t, action) => "/api/tickets/" + enc(t.id) + "/" + action;

  let state = boot.state; // {desk, ticket}
  let waiting = null; // {service code: count} from the board
  let busy = false;

  // ---- messages
  function say(text, kind) {
    const el = $("message");
    el.textContent = text;
    el.className = "message" + (kind ? " message-" + kind : "");
  }

  // ---- rendering
  function pad(n) { return String(n).padStart(2, "0"); }

  function renderTimer() {
    const t = state.ticket;
    if (!t || !t.called_at) { $("cur-timer").textContent = ""; return; }
    const secs = Math.max(0, Math.floor((Date.now() - Date.parse(t.called_at)) / 1000));
    $("cur-timer").textContent = "Llamado hace " + Math.floor(secs / 60) + ":" + pad(secs % 60);
  }

  function render() {
    const d = state.desk;
    const t = state.ticket;
    const open = d.status === "open";
    const called = !!t && t.status === "called";

    const badge = $("desk-status");
    badge.textContent = boot.desk_status_es[d.status] || d.status;
    badge.className = "desk-badge desk-badge-" + d.status;
    $("desk-operator").textContent = d.operator ? "Operador: " + d.operator : "Sin operador asignado";
    $("btn-open").textContent = d.status === "paused" ? "Reanudar" : "Abrir";

    $("current").className = "current-box" + (t ? " current-" + t.status : "");
    $("cur-caption").textContent = t ? (called ? "Turno llamado" : "En atención") : (open ? "Sin turno: llame al siguiente" : "Ventanilla " + (boot.desk_status_es[d.status] || "").toLowerCase());
    $("cur-number").textContent = t ? t.number : "—";
    $("cur-service").textContent = t ? t.service_name : "";
    const st = $("cur-status");
    st.hidden = !t;
    if (t) {
      st.textContent = (boot.status_es[t.status] || t.status) + (t.recall_count ? " · " + t.recall_count + " rellamado(s)" : "");
      st.className = "status-pill status-" + t.status;
    }
    const pr = $("cur-priority");
    pr.hidden = !t || t.priority === "regular";
    if (t) pr.textContent = boot.priority_es[t.priority] || t.priority;
    renderMembers(t);
    renderTimer();

    // Enable only what the API would accept now (it refuses the rest anyway).
    const enable = {
      "btn-open": d.status !== "open",
      "btn-pause": d.status === "open",
      "btn-close": d.status !== "closed" && !t,
      "btn-next": open && !t,
      "btn-call": open && !t,
      "btn-recall": called,
      "btn-start": called,
      "btn-finish": !!t,
      "btn-noshow": called,
    };
    for (const [id, on] of Object.entries(enable)) $(id).disabled = busy || !on;
    $("call-ref").disabled = busy || !(open && !t);

    // Transfer targets: the office's services except the one being served.
    const sel = $("transfer-service");
    const keep = sel.value;
    sel.replaceChildren();
    for (const [code, name] of Object.entries(boot.services)) {
      if (t && code === t.service) continue;
      sel.append(new Option(name, code));
    }
    if (keep && [...sel.options].some((o) => o.value === keep)) sel.value = keep;
    sel.disabled = busy || !t;
    $("btn-transfer").disabled = busy || !t || !sel.value;

    renderWaiting();
    renderPlan(state.plan);
  }

  // A sound when the reminder turns to a pause coming (one soft tone), due or overrun (two):
  // the operator is looking at the citizen, not at the screen. Once per change, never for
  // the reminder the page opened with; the browser allows it after the first click here.
  const REMINDER_TONES = {
    soon: [[660, 0, 0.25, 0.6]],
    due: [[660, 0, 0.3, 0.6], [880, 0.35, 0.3, 0.8]],
    over: [[880, 0, 0.3, 0.6], [660, 0.35, 0.3, 0.8]],
  };
  let audio = null;
  let reminderKind = (state.plan && state.plan.reminder) ? state.plan.reminder.kind : null;
  window.TurneroDesk = { reminderSounds: [] };
  function unlockAudio() {
    audio = audio || TurneroTones.context();
    if (audio) audio.resume().catch(() => {});
  }
  document.addEventListener("pointerdown", unlockAudio);
  document.addEventListener("keydown", unlockAudio);
  function soundReminder(kind) {
    if (kind === reminderKind) return;
    reminderKind = kind;
    if (!REMINDER_TONES[kind]) return;
    window.TurneroDesk.reminderSounds.push(kind);
    TurneroTones.play(audio, REMINDER_TONES[kind]);
  }

  // The desk's planned pauses today and the reminder the server computed for now
  // (pause_plan.reminder): coming, due, on it, or over its planned length.
  function renderPlan(plan) {
    if (!plan) return;
    $("desk-plan").hidden = !plan.pauses.length;
    $("desk-plan-list").replaceChildren(...plan.pauses.flatMap((p, i) => {
      const span = document.createElement("span");
      span.className = "planned-pause";
      span.textContent = p.kind + " " + p.start + "–" + p.ends;
      return i ? [", ", span] : [span];
    }));
    const r = plan.reminder;
    const el = $("desk-reminder");
    if (el.textContent !== (r ? r.text : "")) el.textContent = r ? r.text : "";
    el.className = "plan-reminder" + (r ? " plan-reminder-" + r.kind : "");
    soundReminder(r ? r.kind : null);
  }

  // The minors with their tutor (issue 20): name, document and age, for this desk only.
  const DOC_ES = { ci: "CI", birth_certificate: "Cert. de nacimiento" };
  function renderMembers(t) {
    const members = (t && t.members) || [];
    $("cur-group").hidden = !members.length;
    $("cur-members").replaceChildren(...members.map((m) => {
      const tr = document.createElement("tr");
      for (const text of [m.name, (DOC_ES[m.document_type] || m.document_type) + " " + m.document,
        m.age + (m.age === 1 ? " año" : " años")]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }));
  }

  function waitingItem(code, count, weight) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "w-name";
    name.textContent = boot.services[code] || code;
    if (weight) {
      const tag = document.createElement("span");
      tag.className = "w-tag";
      tag.textContent = weight === 1 ? "principal" : "secundario";
      name.append(" ", tag);
    }
    const n = document.createElement("span");
    n.className = "w-count" + (count ? "" : " w-zero");
    n.textContent = count == null ? "…" : String(count);
    li.append(name, n);
    return li;
  }

  function renderWaiting() {
    const d = state.desk;
    const mine = d.services;
    $("waiting-mine").replaceChildren(
      ...mine.map((code) => waitingItem(code, waiting ? waiting[code] || 0 : null, d.service_weights[code])));
    const others = Object.keys(boot.services).filter((c) => !mine.includes(c));
    $("waiting-others").replaceChildren(
      ...others.map((code) => waitingItem(code, waiting ? waiting[code] || 0 : null, 0)));
  }

  // ---- reading the state
  async function refresh() {
    const [s, b] = await Promise.all([
      Turnero.api("GET", "/desk/" + enc(boot.office) + "/" + enc(boot.desk) + "/state"),
      Turnero.api("GET", "/api/offices/" + enc(boot.office) + "/board"),
    ]);
    state = s.data;
    waiting = b.data.waiting;
    render();
  }

  async function quietRefresh() {
    if (busy || document.visibilityState !== "visible") return;
    try {
      await refresh();
    } catch (e) {
      say(e.message, "error");
    }
  }

  // ---- actions
  function describeNext(view) {
    const n = view.next;
    if (!n) return "Turno " + view.number + " finalizado.";
    return "Turno " + view.number + " finalizado: pasa a " + n.service_name +
      (n.position ? " (lugar " + n.position + " en la fila)." : ".");
  }

  const actions = {
    open: async () => {
      try {
        await Turnero.api("POST", deskApi + "/open");
      } catch (e) {
        // desk_in_use / already_at_desk: the server's message says who holds what.
        // A supervisor may take a desk over, after confirming (audited on the server).
        if (e.code !== "desk_in_use" || !boot.can_take_over ||
            !window.confirm(e.message + "\n\n¿Tomar esta ventanilla?")) throw e;
        await Turnero.api("POST", deskApi + "/open", { take_over: true });
        return "Ventanilla tomada.";
      }
      return "Ventanilla abierta.";
    },
    pause: async () => { await Turnero.api("POST", deskApi + "/pause"); return "Ventanilla en pausa."; },
    close: async () => { await Turnero.api("POST", deskApi + "/close"); return "Ventanilla cerrada."; },
    next: async () => {
      const res = await Turnero.api("POST", deskApi + "/call-next");
      if (res.status === 204) return ["No hay turnos en espera para esta ventanilla.", "info"];
      return "Llamando al turno " + res.data.number + ".";
    },
    call: async () => {
      const ref = $("call-ref").value.trim();
      if (!ref) return ["Escriba el número del turno, por ejemplo C-023.", "info"];
      const res = await Turnero.api("POST", deskApi + "/call", { ticket: ref });
      $("call-ref").value = "";
      return "Llamando al turno " + res.data.number + ".";
    },
    recall: async (t) => { await Turnero.api("POST", ticketApi(t, "recall")); return "Turno " + t.number + " llamado otra vez."; },
    start: async (t) => { await Turnero.api("POST", ticketApi(t, "start")); return "Atención del turno " + t.number + " iniciada."; },
    finish: async (t) => describeNext((await Turnero.api("POST", ticketApi(t, "finish"))).data),
    noshow: async (t) => { await Turnero.api("POST", ticketApi(t, "no-show")); return "Turno " + t.number + " marcado como ausente."; },
    transfer: async (t) => {
      const code = $("transfer-service").value;
      const res = await Turnero.api("POST", ticketApi(t, "transfer"), { service: code });
      return "Turno " + t.number + " transferido a " + res.data.service_name + ".";
    },
  };

  async function run(name) {
    if (busy) return;
    busy = true;
    render();
    try {
      const out = await actions[name](state.ticket);
      const [text, kind] = Array.isArray(out) ? out : [out, "ok"];
      say(text, kind);
    } catch (e) {
      say(e.message, "error");
    }
    busy = false;
    try {
      await refresh();
    } catch (e) {
      render();
    }
  }

  document.querySelectorAll("[data-act]").forEach((btn) => {
    btn.addEventListener("click", () => { btn.blur(); run(btn.dataset.act); });
  });
  $("call-form").addEventListener("submit", (e) => { e.preventDefault(); run("call"); });

  // ---- keyboard: an operator calls hundreds of turns a day
  const KEYS = { " ": ["btn-next", "next"], r: ["btn-recall", "recall"], i: ["btn-start", "start"],
                 f: ["btn-finish", "finish"], a: ["btn-noshow", "noshow"] };
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey || e.repeat) return;
    if (e.target.closest && e.target.closest("input, select, textarea, summary")) return;
    const hit = KEYS[e.key.toLowerCase()];
    if (!hit) return;
    e.preventDefault();
    if (!$(hit[0]).disabled) run(hit[1]);
  });

  render();
  quietRefresh();
  setInterval(quietRefresh, REFRESH_SECONDS * 1000);
  // Waiting counts follow the office's live channel between re-reads.
  if (Turnero.liveBoard) {
    Turnero.liveBoard(boot.office, {
      onSnapshot: (b) => { waiting = b.waiting; renderWaiting(); },
      onEvent: (ev) => { if (ev.type === "queue.changed" && ev.waiting) { waiting = ev.waiting; renderWaiting(); } },
    });
  }
  setInterval(renderTimer, 1000);
  document.addEventListener("visibilitychange", quietRefresh);
})();
