/* Supervisor's plan of pauses: reads the table (a refrigerio and an almuerzo per desk,
   and the other pauses already planned, kept as they are) and writes the day whole (another
   day's plan copied in by the page, ?copy=, is saved the same way). The saved plan can be
   repeated on later days (the same weekday each week, or each working day, until a date):
   only when the table holds what is saved, so a repeat never copies a plan the supervisor
   has since changed on screen without saving. */
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

  const url = "/api/offices/" + encodeURIComponent(boot.office) + "/pause-plan";
  const repeat = document.getElementById("pp-repeat");

  /* A plan as comparable text: the same pauses in any order give the same key. */
  function key(pauses) {
    return JSON.stringify(pauses.map((p) => [p.desk, p.start, p.minutes, p.kind]).sort());
  }
  let saved = key(boot.saved);

  function setSaved(pauses) {
    saved = key(pauses);
    if (repeat) repeat.hidden = pauses.length === 0;
  }

  save.addEventListener("click", async () => {
    save.disabled = true;
    message.textContent = "Guardando…";
    try {
      const res = await Turnero.api("PUT", url, { day: boot.day, pauses: plan() });
      setSaved(res.data.pauses);
      message.textContent = "Plan guardado: " + res.data.pauses.length + " pausas el " + res.data.day + ".";
    } catch (e) {
      message.textContent = e.message;
    } finally {
      save.disabled = false;
    }
  });

  /* The days after `from` up to `until` (AAAA-MM-DD): each week on its weekday, or each
     Monday to Friday. Computed in UTC, where every day has 24 hours. */
  function repeatDays(from, until, every) {
    const days = [];
    const day = new Date(from + "T00:00:00Z");
    const last = new Date(until + "T00:00:00Z");
    const step = every === "week" ? 7 : 1;
    for (day.setUTCDate(day.getUTCDate() + step); day <= last; day.setUTCDate(day.getUTCDate() + step)) {
      const weekday = day.getUTCDay();
      if (every === "week" || (weekday >= 1 && weekday <= 5)) days.push(day.toISOString().slice(0, 10));
    }
    return days;
  }

  if (!repeat) return;
  const go = document.getElementById("pp-repeat-go");
  repeat.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (key(plan()) !== saved) {
      message.textContent = "Guarde el plan antes de repetirlo.";
      return;
    }
    const until = repeat.elements.until.value;
    const days = until ? repeatDays(boot.day, until, repeat.elements.every.value) : [];
    if (!days.length) {
      message.textContent = "Elija en «hasta» una fecha con algún día después del " + boot.day + ".";
      return;
    }
    go.disabled = true;
    message.textContent = "Repitiendo…";
    try {
      const res = await Turnero.api("POST", url + "/repeat", { from: boot.day, days });
      const n = res.data.days.length;
      message.textContent = "Plan del " + res.data.from + " repetido en " + n + (n === 1 ? " día: " : " días: ") +
        res.data.days.join(", ") + ".";
    } catch (e) {
      message.textContent = e.message;
    } finally {
      go.disabled = false;
    }
  });
})();
