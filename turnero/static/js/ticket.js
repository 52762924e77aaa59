/* Citizen ticket page: follows the office's live board channel (ticket numbers only, no
   personal data on it) with this ticket's id, so the server also sends this ticket's
   own updates (place, estimated wait and its range, status, desk) as they change:
   nothing to re-read. The wait reads as on every other surface (eta-format.js).
   A server that sends none (an older one) makes the page re-read its ticket after each
   call or queue change instead; a slow poll stays as a fallback either way. */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("ticket-data").textContent);
  const POLL_SECONDS = 60;            // fallback only: the live channel drives updates
  const FINAL = ["done", "no_show", "cancelled"];
  const $ = (id) => document.getElementById(id);
  const timeFmt = new Intl.DateTimeFormat("es-BO", {
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone: boot.timezone,
  });
  let last = boot.ticket;
  let timer = null;
  let pushed = false;   // the server sends this ticket's updates (ticket.update)

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
    $("c-wait").textContent = TurneroEta.ticket(t);  // "entre 35 y 50 min" (eta-format.js)
    $("c-alert").hidden = !called;
    if ($("valoracion")) $("valoracion").hidden = t.status !== "done";  // rate a finished visit (satisfaction.js)
    $("c-alert-desk").textContent = t.desk || "";
    document.title = (called ? "¡Es su turno! · " : "Turno ") + t.number + " · Turnero";
    if (called && (last.status !== "called" || last.recall_count !== t.recall_count)) {
      if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 400]);
      beep();
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

  // ---- sound when called (phones allow audio only after a touch: the button unlocks it)
  let audio = null;
  function beep() {
    TurneroTones.play(audio, [0, 0.5, 1.0].map((at) => [988, at, 0.4, 0.35]));
  }
  const soundButton = $("c-sound");
  if (soundButton) {
    soundButton.hidden = !(window.AudioContext || window.webkitAudioContext) || FINAL.includes(last.status);
    soundButton.addEventListener("click", () => {
      audio = audio || TurneroTones.context();
      audio.resume().then(() => {
        $("c-sound-label").textContent = "Sonido activado";  // the bell icon (an SVG) stays
        soundButton.disabled = true;
      }).catch(() => {});
    });
  }

  // ---- live updates: re-read this ticket when something that moves it happens
  let refetchTimer = null;
  function refetchSoon(maxDelayMs) {
    if (FINAL.includes(last.status)) return;
    if (refetchTimer && maxDelayMs === 0) { clearTimeout(refetchTimer); refetchTimer = null; }
    if (refetchTimer) return;
    // Spread the re-reads of many phones over a moment instead of all at once.
    refetchTimer = setTimeout(() => { refetchTimer = null; clearTimeout(timer); poll(); },
      Math.random() * maxDelayMs);
  }
  function onEvent(ev) {
    if ((ev.type === "ticket.called" || ev.type === "ticket.recalled") && ev.ticket === last.number) {
      // This number was called: alert at once from the event, then confirm with a re-read.
      if (!FINAL.includes(last.status)) {
        render(Object.assign({}, last, { status: "called", desk: ev.desk, recall_count: ev.recall_count || 0,
          position: null, estimated_wait_minutes: null, estimated_wait_low_minutes: null,
          estimated_wait_high_minutes: null }));
      }
      if (!pushed) refetchSoon(0);   // (pushed: the server's update of this call follows)
    } else if (!pushed && (ev.type === "queue.changed" || ev.type === "ticket.called")) {
      refetchSoon(3000);       // the line moved: position and wait change
    }
  }
  function onTicket(t) {
    pushed = true;
    if (refetchTimer) { clearTimeout(refetchTimer); refetchTimer = null; }
    render(t);
    $("c-updated").textContent = "Actualizado a las " + timeFmt.format(new Date());
  }

  render(last);
  if (!FINAL.includes(last.status)) {
    timer = setTimeout(poll, POLL_SECONDS * 1000);
    if (Turnero.liveBoard) {
      const live = Turnero.liveBoard(boot.ticket.office, {
        ticket: boot.id,
        onSnapshot: (b) => { if (!b.polled && !pushed) refetchSoon(1000); },
        onEvent,
        onTicket,
        onStatus: (s) => { document.body.dataset.live = s; },
      });
      const stopWhenDone = setInterval(() => {
        if (FINAL.includes(last.status)) { live.close(); clearInterval(stopWhenDone); }
      }, 5000);
    }
  }
  // Phones freeze background tabs: refresh at once when the citizen looks again.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !FINAL.includes(last.status)) {
      clearTimeout(timer);
      poll();
    }
  });
})();
