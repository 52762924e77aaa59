/* One way to show a wait estimate, on every page that shows one (kiosk card and ticket,
   printed slip, lobby board, supervisor balancing): the same figure, the same words.
   The server-rendered pages use the same rule (templates/_eta.html).

   minutes: `estimated_wait_minutes` (of a trámite in GET /api/offices/{office}/estimates,
            or of a ticket); null or undefined: no estimate -> "—".
   line:    optional, that trámite's entry of the estimates (`open_desks`, `opens_at`).

   "Sin espera" only when the estimate is 0 AND a desk serving the line is open now; a
   line whose desks are all closed always shows its minutes (with the time the first
   desk is expected, "≈ 25 min (abre 08:00)", when the estimates carry it). Without the
   line (a ticket on its own) 0 is "≈ 0 min": it never promises what it cannot see. */
(function () {
  "use strict";

  // "2026-12-07T08:00-04:00" (already in the office's zone) -> "08:00".
  function clock(iso) {
    const m = /T(\d{2}:\d{2})/.exec(typeof iso === "string" ? iso : "");
    return m ? m[1] : null;
  }

  function known(minutes) {
    return typeof minutes === "number" && Number.isFinite(minutes);
  }

  function openDesks(line) {
    return line && typeof line.open_desks === "number" ? line.open_desks : null;
  }

  /* true: the estimate reads "Sin espera" (a desk of the line is open and the wait is 0). */
  function noWait(minutes, line) {
    return known(minutes) && minutes <= 0 && openDesks(line) > 0;
  }

  /* "Sin espera", "≈ 12 min", "≈ 25 min (abre 08:00)" or "—". */
  function text(minutes, line) {
    if (!known(minutes)) return "—";
    if (noWait(minutes, line)) return "Sin espera";
    let out = "≈ " + Math.max(0, Math.round(minutes)) + " min";
    const opens = openDesks(line) === 0 ? clock(line.opens_at) : null;
    if (opens) out += " (abre " + opens + ")";
    return out;
  }

  /* With a label: "Sin espera" stands alone, other figures read "Espera estimada: ≈ 12 min". */
  function labelled(minutes, line, label) {
    return noWait(minutes, line) ? "Sin espera" : (label || "Espera estimada") + ": " + text(minutes, line);
  }

  window.TurneroEta = { text, labelled, noWait };
})();
