/* Citizen ticket page: polls the public ticket every 10 s (a WebSocket will replace it). */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("ticket-data").textContent);
  const POLL_SECONDS = 10;
  const FINAL = ["done", "no_show", "cancelled"];
  const $ = (id) => document.getElementById(id);
  const timeFmt = new Intl.DateTimeFormat("es-BO", {
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone: boot.timezone,
  });
  let last = boot.ticket;
  let timer = null;

  function render(t) {
    const called = t.status === "called";
    $("c-number").textContent = t.number;
    $("c-service").textContent = t.service_name;
    const badge = $("c-status");
    badge.textContent = boot.status_es[t.status] || t.status;
    badge.className = "status-badge status-" + t.status;
    const note = (boot.notes[t.status] || "").replace("{desk}", t.desk || "");
    $("c-note").textContent = note;
    $("c-note").hidden = !note;
    $("c-waiting").hidden = t.status !== "waiting";
    $("c-position").textContent = t.position == null ? "—" : String(t.position);
    $("c-wait").textContent = t.estimated_wait_minutes == null ? "—" : "≈ " + t.estimated_wait_minutes + " min";
    $("c-alert").hidden = !called;
    $("c-alert-desk").textContent = t.desk || "";
    document.title = (called ? "¡Es su turno! · " : "Turno ") + t.number + " · Turnero";
    if (called && (last.status !== "called" || last.recall_count !== t.recall_count)) {
      if (navigator.vibrate) navigator.vibrate([400, 200, 400]);
    }
    last = t;
  }

  async function poll() {
    try {
      const { data } = await Turnero.api("GET", "/api/tickets/" + encodeURIComponent(boot.id));
      render(data);
      $("c-updated").textContent = "Actualizado a las " + timeFmt.format(new Date());
    } catch (e) {
      $("c-updated").textContent = e.message + " Reintentando…";
    }
    if (FINAL.includes(last.status)) {
      $("c-updated").textContent = "Este turno ya terminó.";
      return;
    }
    timer = setTimeout(poll, POLL_SECONDS * 1000);
  }

  render(last);
  if (!FINAL.includes(last.status)) timer = setTimeout(poll, POLL_SECONDS * 1000);
  // Phones freeze background tabs: refresh at once when the citizen looks again.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !FINAL.includes(last.status)) {
      clearTimeout(timer);
      poll();
    }
  });
})();
