/* Supervisor's plan of pauses: reads the table (a refrigerio and an almuerzo per desk,
   and the other pauses already planned, kept as they are) and writes the day whole; can
   fill the table from another day's plan first. */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("pp-data").textContent);
  const message = document.getElementById("pp-message");
  const save = document.getElementById("pp-save");
  if (!save) return;  // a past day: read only

  function plan() {
    const pauses = [];
    for (const row of document.querySelectorAll("#pp-desks tbody tr")) {
      const desk = row.dataset.desk;
      for (const kind of ["refrigerio", "almuerzo"]) {
        const start = row.querySelector('input[data-kind="' + kind + '"][data-field="start"]').value;
        const minutes = parseInt(row.querySelector('input[data-kind="' + kind + '"][data-field="minutes"]').value, 10);
        if (start) pauses.push({ desk, start: start.slice(0, 5), minutes: Number.isFinite(minutes) ? minutes : 0, kind });
      }
      for (const o of row.querySelectorAll(".pp-other")) {
        pauses.push({ desk, start: o.dataset.start, minutes: parseInt(o.dataset.minutes, 10), kind: o.dataset.kind });
      }
    }
    return pauses;
  }

  const DEFAULT_MINUTES = { refrigerio: 15, almuerzo: 30 };

  /* Fill the table with another day's plan (a roster repeats by the week): each desk's
     first refrigerio and almuerzo into its inputs, the rest as its other pauses. Nothing
     is written until the supervisor saves. */
  function fill(pauses) {
    const byDesk = new Map();
    for (const p of pauses) {
      if (!byDesk.has(p.desk)) byDesk.set(p.desk, []);
      byDesk.get(p.desk).push(p);
    }
    let placed = 0;
    for (const row of document.querySelectorAll("#pp-desks tbody tr")) {
      const own = byDesk.get(row.dataset.desk) || [];
      const taken = new Set();
      for (const kind of ["refrigerio", "almuerzo"]) {
        const p = own.find((q) => q.kind === kind);
        if (p) taken.add(p);
        row.querySelector('input[data-kind="' + kind + '"][data-field="start"]').value = p ? p.start : "";
        row.querySelector('input[data-kind="' + kind + '"][data-field="minutes"]').value = p ? p.minutes : DEFAULT_MINUTES[kind];
      }
      const others = row.querySelector("td:last-child");
      others.replaceChildren();
      for (const o of own.filter((q) => !taken.has(q))) {
        const span = document.createElement("span");
        span.className = "pp-other";
        span.dataset.start = o.start;
        span.dataset.minutes = o.minutes;
        span.dataset.kind = o.kind;
        span.textContent = o.kind + " " + o.start + "–" + o.ends;
        others.append(span, " ");
      }
      placed += own.length;
    }
    return placed;
  }

  const copyDay = document.getElementById("pp-copy-day");
  const copyLoad = document.getElementById("pp-copy-load");
  copyLoad.addEventListener("click", async () => {
    const day = copyDay.value;
    if (!day) {
      message.textContent = "Elija el día cuyo plan quiere copiar.";
      return;
    }
    copyLoad.disabled = true;
    try {
      const res = await Turnero.api("GET", "/api/offices/" + encodeURIComponent(boot.office) +
        "/pause-plan?day=" + encodeURIComponent(day));
      if (!res.data.pauses.length) {
        message.textContent = "El " + day + " no tiene pausas planificadas; la tabla no cambió.";
      } else {
        const placed = fill(res.data.pauses);
        message.textContent = "Copiado el plan del " + day + ": " + placed +
          " pausas. Revíselo y guarde el plan del " + boot.day + ".";
      }
    } catch (e) {
      message.textContent = e.message;
    } finally {
      copyLoad.disabled = false;
    }
  });

  save.addEventListener("click", async () => {
    save.disabled = true;
    message.textContent = "Guardando…";
    try {
      const res = await Turnero.api("PUT", "/api/offices/" + encodeURIComponent(boot.office) + "/pause-plan",
        { day: boot.day, pauses: plan() });
      message.textContent = "Plan guardado: " + res.data.pauses.length + " pausas el " + res.data.day + ".";
    } catch (e) {
      message.textContent = e.message;
    } finally {
      save.disabled = false;
    }
  });
})();
