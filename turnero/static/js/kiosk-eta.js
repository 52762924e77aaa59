/* Kiosk (issue 8): the estimated wait on each trámite, and — when the wait here is long —
   the faster nearby office, proposed on the next step (the citizen may still take a
   ticket here). Reads GET /api/offices/{office}/estimates and
   GET /api/services/{code}/ranking?near={office}; a failure only hides the hints.
   The figures are written by eta-format.js (the same words as the board, the ticket
   and the slip); kiosk.js asks `TurneroKioskEta.line(code)` for a ticket's trámite. */
(function () {
  "use strict";
  const root = document.getElementById("kiosk");
  if (!root || !window.Turnero || !window.TurneroEta) return;
  const office = root.dataset.office;
  const REFRESH_MS = 30000;
  let lines = new Map();  // service code -> its entry of the estimates

  function hint(card) {
    let el = card.querySelector(".service-eta");
    if (!el) {
      el = document.createElement("span");
      el.className = "service-eta";
      const after = card.querySelector(".service-waiting") || card.querySelector(".service-name");
      after.after(el);
    }
    return el;
  }

  async function estimates() {
    try {
      const data = (await Turnero.api("GET", "/api/offices/" + encodeURIComponent(office) + "/estimates")).data;
      lines = new Map(data.services.map((s) => [s.service, s]));
      document.querySelectorAll(".service-card[data-service]").forEach((card) => {
        const s = lines.get(card.dataset.service);
        const el = hint(card);
        el.hidden = !s;
        if (s) el.textContent = TurneroEta.labelledLine(s);  // "Espera estimada: entre 35 y 50 min"
      });
    } catch (e) { /* the kiosk works without the hints */ }
  }

  function advice() {
    let el = document.getElementById("kiosk-advice");
    if (!el) {
      el = document.createElement("p");
      el.id = "kiosk-advice";
      el.className = "alert alert-info kiosk-advice";
      el.setAttribute("role", "status");
      el.hidden = true;
      const step = document.getElementById("step-priority");
      step.insertBefore(el, step.querySelector(".choice-grid"));
    }
    return el;
  }

  async function propose(service) {
    const el = advice();
    el.hidden = true;
    el.textContent = "";
    try {
      const url = "/api/services/" + encodeURIComponent(service) + "/ranking?near=" + encodeURIComponent(office);
      const s = (await Turnero.api("GET", url)).data.suggestion;
      if (!s) return;
      el.textContent = s.message + " Puede sacar su ficha aquí igualmente.";
      el.hidden = false;
    } catch (e) { /* no proposal */ }
  }

  document.querySelectorAll(".service-card[data-service]").forEach((card) => {
    card.addEventListener("click", () => propose(card.dataset.service));
  });
  estimates();
  setInterval(estimates, REFRESH_MS);
  window.TurneroKioskEta = { line: (code) => lines.get(code), refresh: estimates };
})();
