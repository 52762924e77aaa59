/* Lobby board (issue 8): "≈ N min" next to each trámite's waiting count, from
   GET /api/offices/{office}/estimates (refreshed every minute; display.js redraws the
   list on every event, so the figures are put back after each redraw). */
(function () {
  "use strict";
  const list = document.getElementById("d-waiting");
  const bootEl = document.getElementById("display-data");
  if (!list || !bootEl) return;
  const office = JSON.parse(bootEl.textContent).board.office;
  const REFRESH_MS = 60000;
  let waits = {};

  function annotate() {
    list.querySelectorAll("li[data-service]").forEach((li) => {
      const m = waits[li.dataset.service];
      let el = li.querySelector(".d-w-eta");
      if (m === null || m === undefined) { if (el) el.remove(); return; }
      if (!el) {
        el = document.createElement("span");
        el.className = "d-w-eta";
        el.style.cssText = "font-size:2.2vh;font-weight:700;opacity:.75;margin-left:.6em";
        li.querySelector(".d-w-count").after(el);
      }
      el.textContent = m === 0 ? "sin espera" : "≈ " + m + " min";
    });
  }

  async function load() {
    try {
      const res = await fetch("/api/offices/" + encodeURIComponent(office) + "/estimates", { cache: "no-store" });
      if (!res.ok) return;
      const data = await res.json();
      waits = Object.fromEntries(data.services.map((s) => [s.service, s.estimated_wait_minutes]));
      annotate();
    } catch (e) { /* the board works without them */ }
  }

  new MutationObserver(annotate).observe(list, { childList: true });
  load();
  setInterval(load, REFRESH_MS);
})();
