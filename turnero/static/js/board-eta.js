/* Lobby board (issue 8): the estimated wait next to each trámite's waiting count, from
   GET /api/offices/{office}/estimates with its range ("entre 35 y 50 min"), written by
   eta-format.js (the same words as the kiosk, the ticket and the balancing page: "Sin
   espera" only with a desk of the line open). Refreshed every 30 s, and soon after the
   queue changes (display.js redraws the list on every event: the figures are put back
   after each redraw). */
(function () {
  "use strict";
  const list = document.getElementById("d-waiting");
  const bootEl = document.getElementById("display-data");
  if (!list || !bootEl || !window.TurneroEta) return;
  const office = JSON.parse(bootEl.textContent).board.office;
  const REFRESH_MS = 30000;
  const AFTER_CHANGE_MS = 3000;  // a redraw (the queue moved): read again this soon…
  const MIN_GAP_MS = 10000;  // …but not more often than this
  let lines = {};
  let loadedAt = 0;
  let soon = null;

  function annotate() {
    list.querySelectorAll("li[data-service]").forEach((li) => {
      const s = lines[li.dataset.service];
      let el = li.querySelector(".d-w-eta");
      if (!s) { if (el) el.remove(); return; }
      if (!el) {
        el = document.createElement("span");
        el.className = "d-w-eta";
        el.style.cssText = "font-size:2.2vh;font-weight:700;opacity:.75;margin-left:.6em";
        li.querySelector(".d-w-count").after(el);
      }
      el.textContent = TurneroEta.line(s);  // "entre 35 y 50 min"
    });
  }

  async function load() {
    clearTimeout(soon);
    soon = null;
    loadedAt = Date.now();
    try {
      const res = await fetch("/api/offices/" + encodeURIComponent(office) + "/estimates", { cache: "no-store" });
      if (!res.ok) return;
      const data = await res.json();
      lines = Object.fromEntries(data.services.map((s) => [s.service, s]));
      annotate();
    } catch (e) { /* the board works without them */ }
  }

  function redrawn() {
    annotate();
    if (soon === null) soon = setTimeout(load, Math.max(AFTER_CHANGE_MS, loadedAt + MIN_GAP_MS - Date.now()));
  }

  new MutationObserver(redrawn).observe(list, { childList: true });
  load();
  setInterval(load, REFRESH_MS);
})();
