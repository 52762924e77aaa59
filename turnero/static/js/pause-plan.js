/* Supervisor's plan of pauses: reads the table (a refrigerio and an almuerzo per desk,
   and the other pauses already planned, kept as they are) and writes the day whole (another
   day's plan copied in by the page, ?copy=, is saved the same way). */
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
