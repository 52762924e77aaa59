/* One way to show a wait estimate, on every page that shows one (kiosk card and ticket,
   printed slip, citizen ticket page, lobby board, supervisor balancing, portal): the
   same figure, the same words. The server side (templates/_eta.html, the ESC/POS slip,
   the SMS) uses the same rule from turnero/core/wait_words.py; tests/unit/test_eta_format.py
   holds both to one table of cases.

   minutes:   `estimated_wait_minutes` (of a trámite in GET /api/offices/{office}/estimates,
              or of a ticket); null or undefined: no estimate -> "—".
   line:      optional, that trámite's entry of the estimates (`open_desks`, `opens_at`).
   low, high: optional, the estimate's range (`estimated_wait_low/high_minutes`).

   - "Sin espera" only when the estimate is 0 AND a desk serving the line is open now;
     without the line (a ticket on its own) 0 is never "Sin espera";
   - with a range (low < high): "entre 35 y 50 min" ("hasta 8 min" when it starts at 0);
     otherwise the estimate alone: "≈ 12 min";
   - a line whose desks are all closed adds when the first is expected: " (abre 08:00)".
   Rounded for reading: below 60 min whole minutes; from 60 min 5-minute steps (the low
   end down, the high end up, a lone figure to the nearest); from 120 min in hours
   ("≈ 2 h 30 min", "entre 1 h 40 min y 2 h 15 min": a range whose high end reads in
   hours gives both ends in hours). */
(function () {
  "use strict";

  const HOURS_FROM = 120;  // minutes: from here a figure reads in hours
  const STEP_FROM = 60;    // minutes: from here figures go in 5-minute steps
  const STEP = 5;

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

  // Rounding for reading: whole minutes below an hour, 5-minute steps from it.
  function rounder(whole) {
    return (m) => {
      m = Math.max(0, m);
      return m < STEP_FROM ? whole(m) : whole(m / STEP) * STEP;
    };
  }
  const nearest = rounder((m) => Math.floor(m + 0.5));  // a lone figure (half up, as Python's side)
  const down = rounder(Math.floor);                      // a range's low end
  const up = rounder(Math.ceil);                         // a range's high end

  // 60 -> "1 h", 100 -> "1 h 40 min", 45 -> "45 min".
  function hours(m) {
    if (m < 60) return m + " min";
    const h = Math.floor(m / 60), rest = m % 60;
    return rest ? h + " h " + rest + " min" : h + " h";
  }

  // A rounded figure: "12 min", "95 min", "2 h 30 min".
  function figure(m) {
    return m >= HOURS_FROM ? hours(m) : m + " min";
  }

  /* "entre 35 y 50 min", "hasta 8 min", "entre 2 h y 2 h 30 min"; null when there is no
     range to say (an end unknown, or both ends the same once rounded). */
  function span(low, high) {
    if (!known(low) || !known(high)) return null;
    low = down(low);
    high = up(high);
    if (high <= low) return null;
    if (high >= HOURS_FROM) return low === 0 ? "hasta " + hours(high) : "entre " + hours(low) + " y " + hours(high);
    return low === 0 ? "hasta " + high + " min" : "entre " + low + " y " + high + " min";
  }

  /* true: the estimate reads "Sin espera" (a desk of the line is open and the wait is 0). */
  function noWait(minutes, line) {
    return known(minutes) && minutes <= 0 && openDesks(line) > 0;
  }

  /* "Sin espera", "entre 35 y 50 min", "≈ 12 min", "≈ 25 min (abre 08:00)" or "—". */
  function text(minutes, line, low, high) {
    if (!known(minutes)) return "—";
    if (noWait(minutes, line)) return "Sin espera";
    let out = span(low, high) || "≈ " + figure(nearest(minutes));
    const opens = openDesks(line) === 0 ? clock(line.opens_at) : null;
    if (opens) out += " (abre " + opens + ")";
    return out;
  }

  /* With a label: "Sin espera" stands alone, other figures read "Espera estimada: entre 35 y 50 min". */
  function labelled(minutes, line, low, high, label) {
    return noWait(minutes, line) ? "Sin espera" : (label || "Espera estimada") + ": " + text(minutes, line, low, high);
  }

  /* A ticket's estimate (GET /api/tickets/{id}, ticket.update), with its trámite's entry
     of the estimates when at hand. */
  function ticket(t, line) {
    return text(t.estimated_wait_minutes, line, t.estimated_wait_low_minutes, t.estimated_wait_high_minutes);
  }

  /* A trámite's estimate (its entry of the estimates), regular or preferential. */
  function ofLine(s, preferential) {
    const x = preferential ? "_preferential" : "";
    return text(s["estimated_wait_minutes" + x], s, s["estimated_wait_low_minutes" + x],
      s["estimated_wait_high_minutes" + x]);
  }

  /* The same, after a label (the kiosk's cards). */
  function labelledLine(s, preferential, label) {
    const x = preferential ? "_preferential" : "";
    return labelled(s["estimated_wait_minutes" + x], s, s["estimated_wait_low_minutes" + x],
      s["estimated_wait_high_minutes" + x], label);
  }

  window.TurneroEta = { text, labelled, noWait, span, ticket, line: ofLine, labelledLine };
})();
