/* Lobby kiosk: trámite -> preferential? -> optional phone -> ticket issued and printed.
   Accessibility (issue 18): after each step the focus goes to the step's heading (in audio
   mode, kiosk-audio.js, to its first option); the trámite chosen and the ticket are
   announced in a live region; the ticket stays until «Listo» or until a timeout that is
   warned in its last seconds and restarted by any touch or key (longer when printing
   failed); an abandoned choice goes back to the start the same way, warned first. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("kiosk-data").textContent);
  const STEPS = ["service", "priority", "phone", "group", "checkin", "busy", "ticket", "error"];
  // Without a touch or a key, the ticket stays this long (the last WARN_SECONDS warned
  // and extendable), then the screen is ready for the next citizen.
  const TICKET_SECONDS = 60;
  const TICKET_UNPRINTED_SECONDS = 120; // printing failed: time to write the number down
  const IDLE_SECONDS = 60; // an abandoned choice resets so the next citizen starts clean
  const IDLE_STEPS = ["priority", "phone", "group", "checkin", "error"];
  const WARN_SECONDS = 20;
  const $ = (id) => document.getElementById(id);
  const audio = () => window.TurneroKioskAudio;

  let state = fresh();
  let deadline = 0;
  let clockTimer = null;
  let issuing = false;

  function fresh() {
    return { step: "service", service: null, serviceName: "", priority: "regular", phone: "", members: [], printFailed: false };
  }

  // ---- announcements (screen readers) and focus
  let liveTimer = null;
  function announce(text) {
    const live = $("kiosk-live");
    live.textContent = "";  // the same words twice are announced twice
    clearTimeout(liveTimer);
    liveTimer = setTimeout(() => { live.textContent = text; }, 50);
  }

  function focusStep(step) {
    const section = $("step-" + step);
    const heading = section.querySelector("h1, [data-focus]");
    const a = audio();
    let target = heading;
    if (a && a.on && step !== "ticket" && step !== "busy") target = a.firstOption(section) || heading;
    if (target) target.focus({ preventScroll: true });
    if (a) a.stepShown(section, target);
  }

  function show(step) {
    state.step = step;
    for (const s of STEPS) $("step-" + s).hidden = s !== step;
    window.scrollTo(0, 0);
    armTimer();
    focusStep(step);
  }

  // ---- the screen's timeout: the ticket, or an abandoned choice
  function seconds() {
    if (state.step === "ticket") return state.printFailed ? TICKET_UNPRINTED_SECONDS : TICKET_SECONDS;
    return IDLE_STEPS.includes(state.step) ? IDLE_SECONDS : 0;
  }

  function armTimer() {
    clearInterval(clockTimer);
    clockTimer = null;
    hideWarning();
    const total = seconds();
    if (!total) return;
    deadline = Date.now() + total * 1000;
    clockTimer = setInterval(tickTimer, 250);
  }

  function tickTimer() {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) { restart(true); return; }
    if (left <= WARN_SECONDS) showWarning(left);
  }

  function showWarning(left) {
    const warn = $("timeout-warn");
    $("timeout-secs").textContent = String(left);
    if (!warn.hidden) return;
    const ticket = state.step === "ticket";
    $("timeout-what").textContent = ticket ? "Esta pantalla se cerrará" : "Esta pantalla volverá al inicio";
    $("timeout-keep").textContent = ticket ? "Tocar para seguir viendo" : "Tocar para continuar";
    warn.hidden = false;
    const text = (ticket ? "Esta pantalla se cerrará en " : "Esta pantalla volverá al inicio en ") + left +
      " segundos. Toque la pantalla o pulse una tecla para " + (ticket ? "seguir viendo." : "continuar.");
    announce(text);
    if (audio()) audio().say(text, true);
  }

  function hideWarning() {
    const warn = $("timeout-warn");
    if (warn.hidden) return;
    const hadFocus = warn.contains(document.activeElement);
    warn.hidden = true;
    if (hadFocus) focusStep(state.step);  // not to the page's body
  }

  // Any touch, key or switch restarts the time of a screen that has one.
  // (A touch on the warning's own button waits for its click: hidden at the touch, the
  // button would leave the focus on the page's body.)
  function stillHere(e) {
    if (e && e.type !== "keydown" && e.target instanceof Node && $("timeout-warn").contains(e.target)) return;
    if (clockTimer) armTimer();
  }
  ["pointerdown", "keydown", "touchstart", "wheel"].forEach((type) => {
    document.addEventListener(type, stillHere, { passive: true, capture: true });
  });
  $("timeout-keep").addEventListener("click", () => stillHere());

  // gone: the citizen left (Listo, or the screen timed out): the next one starts clean,
  // without audio mode.
  function restart(gone) {
    clearInterval(clockTimer);
    clockTimer = null;
    state = fresh();
    renderPhone();
    $("group-list").replaceChildren();
    renderGroup();
    $("print-area").innerHTML = "";
    if (gone === true && audio()) audio().stop();
    show("service");
  }

  // ---- step 1: trámite
  document.querySelectorAll(".service-card").forEach((btn) => {
    btn.addEventListener("click", () => {
      state.service = btn.dataset.service;
      state.serviceName = btn.dataset.name;
      document.querySelectorAll("[data-bind=service-name]").forEach((el) => { el.textContent = state.serviceName; });
      announce("Trámite elegido: " + state.serviceName + ".");
      show("priority");
    });
  });

  // ---- step 2: preferential attention
  document.querySelectorAll("[data-priority]").forEach((btn) => {
    btn.addEventListener("click", () => {
      state.priority = btn.dataset.priority;
      state.phone = "";
      renderPhone();
      show("phone");
    });
  });

  // ---- step 3: optional phone on the keypad (Bolivian mobile: 8 digits, starts 6 or 7)
  const phoneValid = (p) => /^[67]\d{7}$/.test(p);

  function renderPhone() {
    const p = state.phone;
    const shown = (p + "________").slice(0, 8);
    $("phone-display").textContent = shown.slice(0, 4) + " " + shown.slice(4);
    let error = "";
    if (p && !/^[67]/.test(p)) error = "El celular debe empezar con 6 o 7.";
    $("phone-error").textContent = error;
    document.querySelector("[data-action=phone-ok]").disabled = !phoneValid(p);
  }

  function phoneKey(k) {
    if (k === "clear") state.phone = "";
    else if (k === "back") state.phone = state.phone.slice(0, -1);
    else if (state.phone.length < 8) state.phone += k;
    renderPhone();
    if (audio() && audio().on) {  // what is written so far, digit by digit
      audio().say(state.phone ? state.phone.split("").join(" ") : "Vacío", true);
    }
  }
  document.querySelectorAll(".key").forEach((key) => {
    key.addEventListener("click", () => phoneKey(key.dataset.key));
  });
  // A keyboard's digits and Backspace write the number too.
  document.addEventListener("keydown", (e) => {
    if (state.step !== "phone" || e.ctrlKey || e.altKey || e.metaKey) return;
    if (/^\d$/.test(e.key)) { e.preventDefault(); phoneKey(e.key); }
    else if (e.key === "Backspace") { e.preventDefault(); phoneKey("back"); }
  });

  // ---- optional: minors with the tutor (issue 20), up to MAX_MINORS rows; the desk sees them
  const MAX_MINORS = 6;
  const groupRows = () => [...$("group-list").querySelectorAll(".group-row")];

  function renderGroup() {
    const n = state.members.length;
    $("group-summary").textContent = n ? "Con " + n + (n === 1 ? " menor" : " menores") : "";
    document.querySelector("[data-action=group-add]").disabled = groupRows().length >= MAX_MINORS;
  }

  function addMinor(values) {
    if (groupRows().length >= MAX_MINORS) return;
    const row = $("group-row").content.firstElementChild.cloneNode(true);
    const n = groupRows().length + 1;
    row.querySelectorAll("input, select").forEach((el) => {
      el.setAttribute("aria-describedby", "group-error");
      if (values && values[el.name] != null) el.value = String(values[el.name]);
    });
    const remove = row.querySelector(".group-remove");
    remove.setAttribute("aria-label", "Quitar al menor " + n);
    remove.addEventListener("click", () => { row.remove(); renderGroup(); $("h-group").focus(); });
    $("group-list").append(row);
    renderGroup();
    if (!values) row.querySelector("input").focus();
  }

  function openGroup() {
    $("group-list").replaceChildren();
    $("group-error").textContent = "";
    state.members.forEach((m) => addMinor(m));
    if (!state.members.length) addMinor();
    show("group");
  }

  // The rows as the API takes them; a blank row is left out. Errors in Spanish, per row.
  function readGroup() {
    const members = [];
    const problems = [];
    groupRows().forEach((row, i) => {
      const get = (name) => row.querySelector("[name=" + name + "]").value.trim();
      const m = { name: get("name").replace(/\s+/g, " "), document_type: get("document_type"),
        document: get("document").replace(/[\s.\-/]/g, "").toUpperCase(), age: get("age") };
      if (!m.name && !m.document && m.age === "") return;
      const which = "Menor " + (i + 1) + ": ";
      if (!m.name) problems.push(which + "escriba su nombre.");
      else if (!/^[A-Z0-9]{1,20}$/.test(m.document)) problems.push(which + "escriba el número de su documento.");
      else if (m.age === "") problems.push(which + "elija su edad.");
      m.age = +m.age;
      members.push(m);
    });
    return { members, problems };
  }

  function groupDone() {
    const { members, problems } = readGroup();
    if (problems.length) {
      $("group-error").textContent = problems.join(" ");
      if (audio() && audio().on) audio().say(problems.join(" "), true);
      return;
    }
    state.members = members;
    renderGroup();
    show("phone");
    if (members.length) announce($("group-summary").textContent + ".");
  }

  // ---- issue, show, print

  // The ticket's line in the office's estimates (kiosk-eta.js), so its wait reads as on
  // the trámite's card: "Sin espera" only with a desk of the line open. The figure and
  // its range are the ticket's own.
  function line(t) {
    return window.TurneroKioskEta ? TurneroKioskEta.line(t.service) : undefined;
  }

  async function issue() {
    if (issuing) return;
    issuing = true;
    show("busy");
    const body = { service: state.service, priority: state.priority };
    if (state.phone) body.phone = "+591" + state.phone;
    if (state.members.length) body.members = state.members;
    try {
      const { data: ticket } = await Turnero.api(
        "POST", "/api/offices/" + encodeURIComponent(data.office) + "/tickets", body);
      showTicket(ticket);
      await printTicket(ticket);
      if (window.TurneroKioskEta) TurneroKioskEta.refresh();  // the line just grew
    } catch (e) {
      $("error-message").textContent = e.message;
      show("error");
    } finally {
      issuing = false;
    }
  }

  function showTicket(t, serviceName) {
    $("t-number").textContent = t.number;
    $("t-service").textContent = serviceName || state.serviceName || t.service_name;
    const prio = $("t-priority");
    prio.hidden = t.priority === "regular";
    prio.textContent = "Atención preferencial: " + (data.priorities[t.priority] || t.priority);
    $("t-position").textContent = t.position == null ? "—" : String(t.position);
    $("t-wait").textContent = TurneroEta.ticket(t, line(t));  // its own range ("entre 35 y 50 min")
    $("t-qr-box").hidden = true;
    $("t-print-msg").textContent = "Retire su ticket impreso y espere su llamado en la pantalla.";
    tell(t);
    show("ticket");
  }

  // The ticket in words, for the live region and audio mode (again after kiosk-checkin.js
  // changes the line under the number).
  function tell(t, again) {
    const words = ticketWords(t);
    state.ticketWords = words;
    $("t-heading").dataset.speak = words + " Para escucharlo de nuevo, vuelva a este título con las flechas.";
    announce(words);
    if (again && audio()) audio().say(words, true);
  }

  // "D-001" read as "D, 0, 0, 1": one character at a time, as the citizen will hear it called.
  function spell(number) {
    return String(number).replace(/[^0-9A-Za-z]/g, "").split("").join(", ");
  }

  function ticketWords(t) {
    const parts = ["Su turno es " + t.number + ": " + spell(t.number) + "."];
    parts.push($("t-service").textContent + ".");
    if (!$("t-priority").hidden) parts.push($("t-priority").textContent + ".");
    if (t.position != null) parts.push("Lugar en la fila: " + t.position + ".");
    parts.push("Espera estimada: " + $("t-wait").textContent + ".");
    return parts.join(" ");
  }

  function printFailed(t) {
    const text = "No se pudo imprimir el ticket: anote su número " + t.number + ".";
    $("t-print-msg").textContent = text;
    state.printFailed = true;
    armTimer();  // the longer time, to write the number down
    announce((state.ticketWords || "") + " " + text + " " + spell(t.number) + ".");
    if (audio()) audio().say(text + " " + spell(t.number) + ".", false);
  }

  async function printTicket(t) {
    try {
      // The server renders the slip (with its QR code) so reprints look the same.
      const html = await Turnero.text("/kiosk/ticket/" + encodeURIComponent(t.id) + "/slip");
      $("print-area").innerHTML = html;
      $("print-area").querySelectorAll("[data-eta-minutes]").forEach((el) => {
        el.textContent = TurneroEta.ticket(t, line(t));
      });
      TurneroSlip.fitPage($("print-area").querySelector(".slip"));
      const svg = $("print-area").querySelector(".slip-qr svg");
      if (svg) {
        $("t-qr").replaceChildren(svg.cloneNode(true));
        $("t-qr-box").hidden = false;
      }
    } catch (e) {
      printFailed(t);
      return;
    }
    // Let the ticket paint first; with Chromium's --kiosk-printing this prints silently.
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 50)));
    window.print();
  }

  // ---- navigation buttons
  const actions = {
    back: () => show(state.step === "phone" ? "priority" : state.step === "group" ? "phone" : "service"),
    group: openGroup,
    "group-add": () => addMinor(),
    "group-ok": groupDone,
    "skip-phone": () => { state.phone = ""; issue(); },
    "phone-ok": () => { if (phoneValid(state.phone)) issue(); },
    done: () => restart(true),
    restart: restart,
    retry: issue,
  };
  document.querySelectorAll("[data-action]").forEach((btn) => {
    btn.addEventListener("click", () => actions[btn.dataset.action]());
  });
  // Escape goes back a step, as the step's «‹ Volver» (a keyboard or a keypad's key).
  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape" || e.ctrlKey || e.altKey || e.metaKey) return;
    const back = $("step-" + state.step).querySelector("[data-action=back], [data-checkin=cancel], [data-action=restart]");
    if (back) { e.preventDefault(); back.click(); }
  });
  // No long-press menus on a touch kiosk.
  document.addEventListener("contextmenu", (e) => e.preventDefault());

  // ---- clock in the office's time zone
  const clockFmt = new Intl.DateTimeFormat("es-BO", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: data.timezone });
  function tick() { $("clock").textContent = clockFmt.format(new Date()); }
  tick();
  setInterval(tick, 10000);

  renderPhone();
  renderGroup();
  show("service");
  // For kiosk-checkin.js: a cita's ticket is shown and printed like a walk-in's.
  window.TurneroKiosk = { show, restart, showTicket, printTicket, announce, office: data.office,
    retell: (t) => tell(t, true),
    seconds: { ticket: TICKET_SECONDS, unprinted: TICKET_UNPRINTED_SECONDS, idle: IDLE_SECONDS, warn: WARN_SECONDS } };
})();
