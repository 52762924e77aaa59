/* Lobby kiosk: trámite -> preferential? -> optional phone -> ticket issued and printed. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("kiosk-data").textContent);
  const STEPS = ["service", "priority", "phone", "checkin", "busy", "ticket", "error"];
  const TICKET_SECONDS = 10; // the ticket stays on screen this long, then the next citizen
  const IDLE_SECONDS = 60; // an abandoned choice resets so the next citizen starts clean
  const $ = (id) => document.getElementById(id);

  let state = fresh();
  let countdownTimer = null;
  let idleTimer = null;
  let issuing = false;

  function fresh() {
    return { step: "service", service: null, serviceName: "", priority: "regular", phone: "" };
  }

  function show(step) {
    state.step = step;
    for (const s of STEPS) $("step-" + s).hidden = s !== step;
    window.scrollTo(0, 0);
    armIdle();
  }

  function armIdle() {
    clearTimeout(idleTimer);
    if (["priority", "phone", "checkin", "error"].includes(state.step)) {
      idleTimer = setTimeout(restart, IDLE_SECONDS * 1000);
    }
  }

  function restart() {
    clearInterval(countdownTimer);
    state = fresh();
    renderPhone();
    $("print-area").innerHTML = "";
    show("service");
  }

  // ---- step 1: trámite
  document.querySelectorAll(".service-card").forEach((btn) => {
    btn.addEventListener("click", () => {
      state.service = btn.dataset.service;
      state.serviceName = btn.dataset.name;
      document.querySelectorAll("[data-bind=service-name]").forEach((el) => { el.textContent = state.serviceName; });
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

  document.querySelectorAll(".key").forEach((key) => {
    key.addEventListener("click", () => {
      const k = key.dataset.key;
      if (k === "clear") state.phone = "";
      else if (k === "back") state.phone = state.phone.slice(0, -1);
      else if (state.phone.length < 8) state.phone += k;
      renderPhone();
    });
  });

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
    show("ticket");
    startCountdown();
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
      $("t-print-msg").textContent = "No se pudo imprimir el ticket: anote su número " + t.number + ".";
      return;
    }
    // Let the ticket paint first; with Chromium's --kiosk-printing this prints silently.
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 50)));
    window.print();
  }

  function startCountdown() {
    clearInterval(countdownTimer);
    let left = TICKET_SECONDS;
    $("countdown").textContent = "(" + left + ")";
    countdownTimer = setInterval(() => {
      left -= 1;
      $("countdown").textContent = "(" + left + ")";
      if (left <= 0) restart();
    }, 1000);
  }

  // ---- navigation buttons
  const actions = {
    back: () => show(state.step === "phone" ? "priority" : "service"),
    "skip-phone": () => { state.phone = ""; issue(); },
    "phone-ok": () => { if (phoneValid(state.phone)) issue(); },
    done: restart,
    restart: restart,
    retry: issue,
  };
  document.querySelectorAll("[data-action]").forEach((btn) => {
    btn.addEventListener("click", () => actions[btn.dataset.action]());
  });
  document.addEventListener("pointerdown", armIdle);
  // No long-press menus on a touch kiosk.
  document.addEventListener("contextmenu", (e) => e.preventDefault());

  // ---- clock in the office's time zone
  const clockFmt = new Intl.DateTimeFormat("es-BO", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: data.timezone });
  function tick() { $("clock").textContent = clockFmt.format(new Date()); }
  tick();
  setInterval(tick, 10000);

  renderPhone();
  show("service");
  // For kiosk-checkin.js: a cita's ticket is shown and printed like a walk-in's.
  window.TurneroKiosk = { show, restart, showTicket, printTicket, office: data.office };
})();
