/* Kiosk «Tengo cita»: the citizen types the cita's code (or CI number) on the touch
   keyboard; the check-in creates a ticket that is shown and printed like a walk-in's. */
(function () {
  "use strict";
  const K = window.TurneroKiosk;
  if (!K || !document.getElementById("step-checkin")) return;
  const $ = (id) => document.getElementById(id);

  // Codes use a reduced alphabet (no 0/O, 1/I/L…): the keyboard shows only its keys,
  // in the usual QWERTY places, so a misread character cannot even be typed.
  const section = $("step-checkin");
  const ALPHABET = section.dataset.codeAlphabet || "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const CODE_LENGTH = +section.dataset.codeLength || 8;
  const only = (row) => [...row].filter((c) => ALPHABET.includes(c)).join("");
  const MODES = {
    code: {
      help: "Escriba el código de " + CODE_LENGTH + " caracteres que recibió al reservar (en su confirmación o en el mensaje).",
      max: CODE_LENGTH,
      rows: ["1234567890", "QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM"].map(only).filter(Boolean),
      valid: (v) => v.length === CODE_LENGTH,
      shown: (v) => (v.length > 4 ? v.slice(0, 4) + " " + v.slice(4) : v),
    },
    document: {
      help: "Escriba su número de cédula, sin complemento (de 5 a 10 dígitos).",
      max: 10,
      rows: ["123", "456", "789"],
      valid: (v) => /^\d{5,10}$/.test(v),
      shown: (v) => v,
    },
  };
  // Spanish messages for the check-in refusals; the API's own message says the times.
  const MESSAGES = {
    not_found: "No encontramos una cita para hoy con esos datos en esta oficina. Revise lo que escribió o consulte en informaciones.",
    appointment_not_found: "No encontramos una cita para hoy con esos datos en esta oficina. Revise lo que escribió o consulte en informaciones.",
  };
  const PLACEHOLDER = { code: "Código", document: "Cédula" };

  let mode = "code";
  let value = "";
  let sending = false;

  function buildKeys() {
    const box = $("checkin-keys");
    box.replaceChildren();
    box.className = "checkin-keys checkin-keys-" + mode + (mode === "document" ? " keypad" : "");
    const key = (label, k, extra) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "key" + (extra ? " " + extra : "");
      b.dataset.ckey = k;
      b.textContent = label;
      if (k === "back") b.setAttribute("aria-label", "Borrar el último carácter");
      return b;
    };
    if (mode === "document") { // a phone-style 3×4 keypad
      for (const row of MODES.document.rows) for (const ch of row) box.append(key(ch, ch));
      box.append(key("Borrar", "clear", "key-fn"), key("0", "0"), key("⌫", "back", "key-fn"));
      return;
    }
    MODES.code.rows.forEach((row, i) => { // keyboard rows, the last with the erase keys
      const line = document.createElement("div");
      line.className = "krow";
      for (const ch of row) line.append(key(ch, ch));
      if (i === MODES.code.rows.length - 1) line.append(key("⌫", "back", "key-fn"), key("Borrar", "clear", "key-fn key-wide"));
      box.append(line);
    });
  }

  function render() {
    const m = MODES[mode];
    $("checkin-help").textContent = m.help;
    const display = $("checkin-display");
    display.textContent = value ? m.shown(value) : PLACEHOLDER[mode];
    display.classList.toggle("is-empty", !value);
    document.querySelectorAll("[data-checkin-mode]").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.checkinMode === mode));
    });
    document.querySelector("[data-checkin=submit]").disabled = !m.valid(value) || sending;
  }

  function setMode(next) {
    mode = next;
    value = "";
    $("checkin-error").textContent = "";
    buildKeys();
    render();
  }

  function start() {
    sending = false;
    setMode("code");
    K.show("checkin");
  }

  async function submit(scanned) {
    if (sending || (!scanned && !MODES[mode].valid(value))) return;
    sending = true;
    $("checkin-error").textContent = "";
    const busy = document.querySelector("#step-busy .busy-text");
    const busyText = busy.textContent;
    busy.textContent = "Registrando su llegada…";
    K.show("busy");
    const body = scanned ? { code: scanned } : mode === "code" ? { code: value } : { document: value };
    try {
      const { data: ticket } = await Turnero.api(
        "POST", "/api/offices/" + encodeURIComponent(K.office) + "/checkins", body);
      busy.textContent = busyText;
      K.showTicket(ticket, ticket.service_name);
      const pill = $("t-priority");
      pill.hidden = false;
      pill.textContent = ticket.late
        ? "Llegó después de su horario: se le atiende en la fila general"
        : "Cita " + (ticket.appointment || "") + ": se le llama a su hora";
      if (K.retell) K.retell(ticket);
      await K.printTicket(ticket);
    } catch (e) {
      busy.textContent = busyText;
      // Stay on the keyboard with what was typed, so a typo is fixed in one touch.
      $("checkin-error").textContent = MESSAGES[e.code] ||
        (e.status === 404 ? MESSAGES.not_found : e.message);
      K.show("checkin");
    } finally {
      sending = false;
      render();
    }
  }

  // A QR reader at the kiosk types the cita's link and Enter, like a keyboard: on the
  // first screen or the check-in screen that checks the cita in without touching anything.
  // Key gaps are measured by the events' own time stamps (when the key came), not by
  // when a busy page got round to them: a kiosk printing or redrawing must not break a
  // reader's burst into pieces, nor run a person's keys together into one.
  let scan = "";
  let scanAt = -1e9;
  document.addEventListener("keydown", (e) => {
    const onScreen = !$("step-checkin").hidden || !$("step-service").hidden;
    if (!onScreen || sending || e.ctrlKey || e.altKey || e.metaKey) return;
    if (e.key === "Enter") {
      const text = e.timeStamp - scanAt <= 400 ? scan.trim() : "";
      scan = "";
      if (text.length >= CODE_LENGTH) {
        if ($("step-checkin").hidden) { setMode("code"); }
        submit(text);
      }
      return;
    }
    if (e.key.length === 1) {
      // Readers type fast (a few ms a key); a person's keys (kept by the typing below)
      // are too far apart to make a scan.
      if (e.timeStamp - scanAt > 80) scan = "";
      scanAt = e.timeStamp;
      scan += e.key;
    } else {
      scan = "";
    }
  });

  // A person's keyboard (or a headphone-jack keypad) types the code or the number too,
  // key by key; a reader's burst (keys a few ms apart) is left to the scan above.
  let typed = [];
  let typedAt = 0;
  let burst = false;
  let typedTimer = null;
  document.addEventListener("keydown", (e) => {
    if ($("step-checkin").hidden || sending || e.ctrlKey || e.altKey || e.metaKey) return;
    if (e.key === "Backspace") { e.preventDefault(); press("back"); return; }
    if (e.key.length !== 1 || e.key === " ") return;
    if (typed.length && e.timeStamp - typedAt < 40) burst = true;
    typedAt = e.timeStamp;
    typed.push(e.key.toUpperCase());
    clearTimeout(typedTimer);
    typedTimer = setTimeout(() => {
      const keys = burst ? [] : typed;
      typed = [];
      burst = false;
      for (const k of keys) {
        if (mode === "document" ? /^\d$/.test(k) : ALPHABET.includes(k)) press(k);
      }
    }, 120);
  });

  function press(k) {
    if (k === "clear") value = "";
    else if (k === "back") value = value.slice(0, -1);
    else if (value.length < MODES[mode].max) value += k;
    $("checkin-error").textContent = "";
    render();
    const audio = window.TurneroKioskAudio;
    if (audio && audio.on) audio.say(value ? value.split("").join(" ") : "Vacío", true);
  }

  document.querySelector("[data-checkin=start]").addEventListener("click", start);
  document.querySelector("[data-checkin=cancel]").addEventListener("click", () => K.restart());
  document.querySelector("[data-checkin=submit]").addEventListener("click", () => submit());
  document.querySelectorAll("[data-checkin-mode]").forEach((b) => {
    b.addEventListener("click", () => {
      if (b.dataset.checkinMode !== mode) setMode(b.dataset.checkinMode);
      const audio = window.TurneroKioskAudio;
      if (audio && audio.on) audio.say(audio.words(b) + ". " + MODES[mode].help, true);
    });
  });
  $("checkin-keys").addEventListener("click", (e) => {
    const key = e.target.closest("[data-ckey]");
    if (!key) return;
    press(key.dataset.ckey);
  });
})();
