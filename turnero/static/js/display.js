/* Lobby display: follows the office's live board, shows the newest call large, the last
   calls, waiting counts and a clock; announces every call with a chime and a Spanish
   voice (one after another, never cutting each other off; a recall is announced again).
   After an outage it keeps the last state with a discreet badge and resnapshots; the
   snapshot lists every call of the last few minutes (`recent_calls`), and the calls this
   screen has not announced yet are announced then, oldest first — each with its voice
   and its highlight — up to MAX_MISSED of them (the rest are only shown). Snapshots read
   over HTTP while the channel or the server's bus is down are compared the same way. */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("display-data").textContent);
  const $ = (id) => document.getElementById(id);
  const HIGHLIGHT_MS = 8000;
  const ANNOUNCE_RECENT_MS = 300000;  // default: missed calls newer than this are still announced
  const MAX_PENDING = 8;
  const MAX_MISSED = 8;               // missed calls announced after an outage, the newest ones

  const state = {
    calls: boot.board.calls.slice(),
    waiting: Object.assign({}, boot.board.waiting),
    services: Object.assign({}, boot.board.services),
    desks: boot.board.desks.slice(),
  };
  const announced = new Set(state.calls.concat(boot.board.recent_calls || []).map(callKey));
  let spotlight = null;               // the call being announced: the hero shows it meanwhile
  let clockOffsetMs = 0;              // server time minus this screen's clock
  let flashTimer = null;

  function callKey(c) { return c.ticket + "|" + c.called_at + "|" + (c.recall_count || 0); }
  function sameCall(a, b) { return a.ticket === b.ticket && a.called_at === b.called_at; }
  function now() { return Date.now() + clockOffsetMs; }

  /* ------------------------------------------------------------ speakable Spanish */

  const UNITS = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez",
    "once", "doce", "trece", "catorce", "quince", "dieciséis", "diecisiete", "dieciocho", "diecinueve",
    "veinte", "veintiuno", "veintidós", "veintitrés", "veinticuatro", "veinticinco", "veintiséis",
    "veintisiete", "veintiocho", "veintinueve"];
  const TENS = ["", "", "", "treinta", "cuarenta", "cincuenta", "sesenta", "setenta", "ochenta", "noventa"];
  const HUNDREDS = ["", "ciento", "doscientos", "trescientos", "cuatrocientos", "quinientos", "seiscientos",
    "setecientos", "ochocientos", "novecientos"];
  // Letter names, so "A" is not read as the preposition nor "C" swallowed.
  const LETTERS = { A: "a", B: "be", C: "ce", D: "de", E: "e", F: "efe", G: "ge", H: "hache", I: "i",
    J: "jota", K: "ka", L: "ele", M: "eme", N: "ene", "Ñ": "eñe", O: "o", P: "pe", Q: "cu", R: "erre",
    S: "ese", T: "te", U: "u", V: "ve", W: "doble ve", X: "equis", Y: "ye", Z: "zeta" };

  function numberWords(n) {
    if (n < 30) return UNITS[n];
    if (n < 100) return TENS[Math.floor(n / 10)] + (n % 10 ? " y " + UNITS[n % 10] : "");
    if (n === 100) return "cien";
    if (n < 1000) return HUNDREDS[Math.floor(n / 100)] + (n % 100 ? " " + numberWords(n % 100) : "");
    if (n < 1000000) {
      const th = Math.floor(n / 1000);
      return (th === 1 ? "mil" : numberWords(th) + " mil") + (n % 1000 ? " " + numberWords(n % 1000) : "");
    }
    return String(n);
  }

  // "023" -> "cero veintitrés": leading zeros are read, as printed on the ticket.
  function digitsWords(text) {
    const zeros = text.match(/^0*/)[0].length;
    const rest = text.slice(zeros);
    const parts = new Array(Math.min(zeros, rest ? zeros : zeros - 1)).fill("cero");
    parts.push(rest ? numberWords(parseInt(rest, 10)) : "cero");
    return parts.join(" ");
  }

  function spell(text) {
    return text.toUpperCase().split("").map((ch) => LETTERS[ch] || ch).join(" ");
  }

  // Any run of digits as a number, any run of letters spelled: "CI-023" -> "ce i guion cero veintitrés".
  function speakable(text) {
    return String(text).split(/(\d+|-)/).filter((p) => p && p.trim()).map((p) => {
      if (p === "-") return "guion";
      if (/^\d+$/.test(p)) return digitsWords(p);
      return /^[A-Za-zÑñ]{1,3}$/.test(p.trim()) ? spell(p.trim()) : p.trim();
    }).join(" ");
  }

  function announcementText(call, recall) {
    const desk = call.desk ? ", ventanilla " + speakable(call.desk) : "";
    return (recall ? "Llamado nuevamente: turno " : "Turno ") + speakable(call.ticket) + desk + ".";
  }

  /* ------------------------------------------------------------ chime and voice, queued */

  let audio = null;
  const pending = [];
  let speaking = false;
  window.TurneroDisplay = { spoken: [], highlighted: [], speakable, announcementText };

  function audioContext() {
    audio = audio || TurneroTones.context();
    return audio;
  }

  function chime() {
    const ctx = audioContext();
    if (!ctx || ctx.state !== "running") return Promise.resolve();
    TurneroTones.play(ctx, [[880, 0, 0.35, 0.9], [659.25, 0.42, 0.35, 0.9]]);  // two soft tones, "ding-dong"
    return new Promise((resolve) => setTimeout(resolve, 1300));
  }

  let voice = null;
  function pickVoice() {
    if (!window.speechSynthesis) return;
    const voices = speechSynthesis.getVoices();
    const by = (re) => voices.find((v) => re.test(v.lang));
    voice = by(/^es[-_]BO/i) || by(/^es[-_](419|US|MX|AR|PE|CL|CO)/i) || by(/^es/i) || null;
  }
  if (window.speechSynthesis) {
    pickVoice();
    speechSynthesis.addEventListener("voiceschanged", pickVoice);
  }

  function speak(text) {
    return new Promise((resolve) => {
      if (!window.speechSynthesis) { resolve(); return; }
      const u = new SpeechSynthesisUtterance(text);
      u.lang = voice ? voice.lang : "es-BO";
      if (voice) u.voice = voice;
      u.rate = 0.9;
      // Some engines never fire "end": do not let one stuck utterance stop the queue.
      const guard = setTimeout(done, 2500 + text.length * 110);
      function done() { clearTimeout(guard); resolve(); }
      u.onend = done;
      u.onerror = done;
      speechSynthesis.resume();
      speechSynthesis.speak(u);
    });
  }

  function announce(call, recall) {
    const text = announcementText(call, recall);
    if (pending.some((p) => p.text === text)) return;
    pending.push({ text, call });
    if (pending.length > MAX_PENDING) pending.shift();  // the screen still shows the skipped ones
    if (!speaking) playNext();
  }

  async function playNext() {
    speaking = true;
    while (pending.length) {
      const { text, call } = pending.shift();
      // The hero shows (and flashes) the call being read out, so voice and screen agree
      // even when several missed calls are announced one after another.
      spotlight = call;
      window.TurneroDisplay.highlighted.push(call.ticket);
      renderCalls(true);
      window.TurneroDisplay.spoken.push(text);
      await chime();
      await speak(text);
      await new Promise((r) => setTimeout(r, 700));
    }
    speaking = false;
    if (spotlight && state.calls[0] && !sameCall(spotlight, state.calls[0])) {
      spotlight = null;
      renderCalls(false);   // back to the newest call
    }
    spotlight = null;
  }

  // Browsers start audio only after a gesture (a kiosk TV can be started with
  // --autoplay-policy=no-user-gesture-required): offer one touch to enable it.
  // The offer is a small badge in the header's flow (it covers nothing) and leaves as
  // soon as the sound runs, however it got to run.
  function checkSound() {
    const ctx = audioContext();
    const button = $("d-sound");
    if (ctx && ctx.state !== "running") {
      ctx.resume().catch(() => {});
      setTimeout(() => { button.hidden = !ctx || ctx.state === "running"; }, 500);
      ctx.addEventListener("statechange", () => { if (ctx.state === "running") button.hidden = true; });
    }
  }
  function unlock() {
    const ctx = audioContext();
    if (ctx) ctx.resume().catch(() => {});
    if (window.speechSynthesis) speechSynthesis.speak(new SpeechSynthesisUtterance(""));
    $("d-sound").hidden = true;
  }
  document.addEventListener("pointerdown", unlock);
  document.addEventListener("keydown", unlock);

  /* ------------------------------------------------------------ fitting the screen */

  // Nothing may run under the bottom of a TV nobody scrolls: the waiting cards shrink
  // (--d-fit, never below MIN_FIT) only as much as an office with many trámites needs,
  // and the older recent calls that would be cut off are left out (the newest stay).
  const MIN_FIT = 0.6;
  let fitFrame = 0;
  function fitScreen() {
    fitFrame = 0;
    const waiting = $("d-waiting").parentElement;
    let fit = 1;
    waiting.style.setProperty("--d-fit", String(fit));
    while (waiting.scrollHeight > waiting.clientHeight + 1 && fit > MIN_FIT + 0.001) {
      fit = Math.max(MIN_FIT, fit - 0.05);
      waiting.style.setProperty("--d-fit", fit.toFixed(2));
    }
    window.TurneroDisplay.fit = fit;
    const recent = $("d-recent");
    const items = Array.from(recent.children);
    items.forEach((li) => { li.hidden = false; });
    const bottom = recent.parentElement.getBoundingClientRect().bottom;
    items.forEach((li) => { li.hidden = li.getBoundingClientRect().bottom > bottom + 1; });
  }
  function scheduleFit() {
    if (!fitFrame) fitFrame = requestAnimationFrame(fitScreen);
  }
  window.addEventListener("resize", scheduleFit);
  // board-eta.js adds the wait under each count after a redraw: fit again then too.
  new MutationObserver(scheduleFit).observe($("d-waiting"), { childList: true, subtree: true, characterData: true });

  /* ------------------------------------------------------------ rendering */

  function deskHtml(el, desk) {
    el.textContent = "";
    if (!desk) { el.textContent = "—"; return; }
    el.append("Ventanilla ");
    const b = document.createElement("b");
    b.textContent = desk;
    el.append(b);
  }

  function renderCalls(fresh) {
    const hero = spotlight || state.calls[0];
    $("d-hero").classList.toggle("is-empty", !hero);
    $("d-hero-label").textContent = hero ? (hero.recall_count ? "Llamando nuevamente" : "Llamando") : "Bienvenidos";
    $("d-hero-ticket").textContent = hero ? hero.ticket : "";
    deskHtml($("d-hero-desk"), hero && hero.desk);
    $("d-hero-service").textContent = hero ? (hero.service_name || state.services[hero.service] || "")
      : "Espere su turno; lo llamaremos en esta pantalla.";
    const list = $("d-recent");
    list.textContent = "";
    state.calls.slice(1, boot.recent).forEach((c) => {
      const li = document.createElement("li");
      const t = document.createElement("span");
      t.className = "d-r-ticket";
      t.textContent = c.ticket;
      const a = document.createElement("span");
      a.className = "d-r-arrow";
      a.textContent = "→";
      const d = document.createElement("span");
      d.className = "d-r-desk";
      deskHtml(d, c.desk);
      li.append(t, a, d);
      list.append(li);
    });
    if (fresh && hero) {
      const el = $("d-hero");
      el.classList.remove("flash");
      void el.offsetWidth;  // restart the animation
      el.classList.add("flash");
      clearTimeout(flashTimer);
      flashTimer = setTimeout(() => el.classList.remove("flash"), HIGHLIGHT_MS);
      const second = list.firstElementChild;
      if (second) second.classList.add("is-new");
    }
    scheduleFit();
  }

  function renderWaiting() {
    const list = $("d-waiting");
    list.textContent = "";
    Object.keys(state.waiting)
      .sort((a, b) => (state.services[a] || a).localeCompare(state.services[b] || b, "es"))
      .forEach((code) => {
        const li = document.createElement("li");
        li.dataset.service = code;
        const n = document.createElement("span");
        n.className = "d-w-name";
        n.textContent = state.services[code] || code;
        const c = document.createElement("span");
        c.className = "d-w-count";
        c.textContent = String(state.waiting[code]);
        li.append(n, c);
        list.append(li);
      });
    const open = state.desks.filter((d) => d.status === "open").length;
    $("d-open").textContent = state.desks.length ? "· ventanillas abiertas: " + open + " de " + state.desks.length : "";
  }

  const timeFmt = new Intl.DateTimeFormat("es-BO", { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: boot.timezone });
  const dateFmt = new Intl.DateTimeFormat("es-BO", { weekday: "long", day: "numeric", month: "long", timeZone: boot.timezone });
  function tick() {
    const d = new Date(now());
    $("d-clock").textContent = timeFmt.format(d);
    const date = dateFmt.format(d);
    $("d-date").textContent = date.charAt(0).toUpperCase() + date.slice(1);
    setTimeout(tick, 1000 - (d.getTime() % 1000) + 20);
  }

  /* ------------------------------------------------------------ the live channel */

  function onSnapshot(board) {
    const before = state.calls;
    // Calls made while this screen was away (an outage, a silent channel, calls made on
    // another instance while the bus was down): announced, oldest first, if still recent.
    const windowMs = board.recent_window_seconds ? board.recent_window_seconds * 1000 : ANNOUNCE_RECENT_MS;
    const recent = (board.recent_calls || board.calls).slice().reverse();   // oldest first
    const missed = recent.filter((c) => !announced.has(callKey(c)) && now() - Date.parse(c.called_at) < windowMs);
    state.calls = board.calls.slice();
    state.waiting = Object.assign({}, board.waiting);
    state.services = Object.assign({}, board.services);
    state.desks = board.desks.slice();
    recent.concat(state.calls).forEach((c) => announced.add(callKey(c)));
    const fresh = missed.length > 0 || (before[0] && state.calls[0] && !sameCall(before[0], state.calls[0]));
    renderCalls(fresh && !speaking);
    renderWaiting();
    // Bounded: the newest MAX_MISSED are read out, in order; the others are on the list.
    missed.slice(-MAX_MISSED).forEach((c) => announce(c, c.recall_count > 0));
    window.TurneroDisplay.missed = (window.TurneroDisplay.missed || 0) + missed.length;
  }

  function onEvent(ev) {
    if (ev.type === "ticket.called" || ev.type === "ticket.recalled") {
      const call = { ticket: ev.ticket, service: ev.service, service_name: ev.service_name, desk: ev.desk,
        called_at: ev.called_at, recall_count: ev.recall_count || 0 };
      state.calls = [call].concat(state.calls.filter((c) => !sameCall(c, call))).slice(0, boot.recent);
      if (ev.service_name) state.services[ev.service] = ev.service_name;
      if (ev.desk) {
        const desk = state.desks.find((d) => d.name === ev.desk);
        if (desk) desk.serving = ev.ticket;
      }
      renderCalls(true);
      renderWaiting();
      const key = callKey(call);
      if (!announced.has(key)) {
        announced.add(key);
        announce(call, ev.type === "ticket.recalled");
      }
    } else if (ev.type === "queue.changed") {
      if (ev.waiting) state.waiting = ev.waiting;
      if (ev.desks) state.desks = ev.desks;
      renderWaiting();
    }
  }

  let offlineTimer = null;
  function onStatus(s) {
    document.body.dataset.live = s;
    clearTimeout(offlineTimer);
    if (s === "live") { $("d-conn").hidden = true; return; }
    // A short blip is not worth a badge; a real outage is, discreetly.
    offlineTimer = setTimeout(() => { $("d-conn").hidden = false; }, s === "offline" ? 2000 : 5000);
  }

  function onPing(msg) {
    const server = Date.parse(msg.time);
    if (!Number.isNaN(server)) {
      const offset = server - Date.now();
      clockOffsetMs = Math.abs(offset) > 2000 ? offset : 0;
    }
  }

  renderCalls(false);
  renderWaiting();
  tick();
  checkSound();
  Turnero.liveBoard(boot.board.office, {
    pingSeconds: boot.ping_seconds, pollWhileDown: true, onSnapshot, onEvent, onStatus, onPing,
  });
})();
