/* Kiosk audio mode (issue 18): for a citizen who cannot see the screen. Started by the
   «Modo accesible» button or by any key (a keyboard, or a keypad on the headphone jack,
   which sends keys); a QR reader's fast burst of characters does not start it.
   In audio mode the step, the option under focus and the ticket are spoken in Spanish
   (Web Speech API, es-BO voice when there is one), the arrow keys (and Tab) move between
   the options of the step, Home/End go to the first/last one and Enter chooses.
   kiosk.js calls `stepShown` after each step and `say` for its announcements. */
(function () {
  "use strict";
  const button = document.getElementById("audio-mode");
  const root = document.getElementById("kiosk");
  if (!root || !button) return;

  let on = false;
  let quietFocus = false;  // the focus moved by the kiosk itself: its words were said already

  // ---- speech (as on the lobby display: es-BO, else another Latin-American Spanish, else es)
  let voice = null;
  function pickVoice() {
    if (!window.speechSynthesis) return;
    const voices = speechSynthesis.getVoices();
    const by = (re) => voices.find((v) => re.test(v.lang));
    voice = by(/^es[-_]BO/i) || by(/^es[-_](419|US|MX|AR|PE|CL|CO)/i) || by(/^es[-_]ES/i) || by(/^es/i) || null;
  }
  if (window.speechSynthesis) {
    pickVoice();
    speechSynthesis.addEventListener("voiceschanged", pickVoice);
  }

  // interrupt: the citizen moved on, so what was being read is no longer wanted.
  function say(text, interrupt) {
    if (!on || !text || !window.speechSynthesis) return;
    if (interrupt) speechSynthesis.cancel();
    const u = new SpeechSynthesisUtterance(text);
    u.lang = voice ? voice.lang : "es-BO";
    if (voice) u.voice = voice;
    u.rate = 0.95;
    speechSynthesis.resume();
    speechSynthesis.speak(u);
  }

  const clean = (text) => text.replace(/\s*\n\s*/g, ". ").replace(/\s+/g, " ").replace(/\.\s*\./g, ".").trim();

  // What an element says: its own words for speech, else its accessible name, else its text.
  function words(el) {
    if (!el) return "";
    if (el.dataset.speak) return el.dataset.speak;
    const label = el.getAttribute("aria-label");
    let text = label || clean(el.innerText || el.textContent || "");
    if (el.disabled) text += ", no disponible";
    if (el.getAttribute("aria-pressed") === "true") text += ", seleccionado";
    return text;
  }

  function section() {
    return root.querySelector("section.step:not([hidden])");
  }

  // The options of the step on screen, in reading order: its heading first (to hear where
  // one is again), then its enabled buttons.
  function options() {
    const s = section();
    if (!s) return [];
    const list = [...s.querySelectorAll("h1[tabindex], button:not([disabled])")];
    const warn = document.getElementById("timeout-warn");
    if (warn && !warn.hidden) list.push(...warn.querySelectorAll("button"));
    return list.filter((el) => el.getClientRects().length > 0);
  }

  // The step's first option: the one marked data-first (the phone's «Omitir»), else its first button.
  function firstOption(sectionEl) {
    const visible = (el) => el && el.getClientRects().length > 0;
    const marked = sectionEl.querySelector("button[data-first]:not([disabled])");
    if (visible(marked)) return marked;
    return [...sectionEl.querySelectorAll("button:not([disabled])")].find(visible) || null;
  }

  function focus(el, text) {
    if (!el) return;
    quietFocus = true;
    el.focus({ preventScroll: false });
    quietFocus = false;
    say(text === undefined ? words(el) : text, true);
  }

  function move(delta, absolute) {
    const list = options();
    if (!list.length) return;
    const at = list.indexOf(document.activeElement);
    let next;
    if (absolute === "first") next = 0;
    else if (absolute === "last") next = list.length - 1;
    else if (at < 0) next = delta > 0 ? Math.min(1, list.length - 1) : list.length - 1;
    else next = (at + delta + list.length) % list.length;
    focus(list[next]);
  }

  // After each step (kiosk.js): say the step, then the option that has the focus.
  // Returns the element to focus in audio mode: the first option (the ticket: its heading).
  function stepShown(sectionEl, target) {
    if (!on) return;
    const heading = sectionEl.querySelector("h1");
    if (target && target !== heading) {
      const count = sectionEl.querySelector(".step-count");
      // The step's error, if it shows one (the check-in refused, the ticket not issued).
      const alerts = [...sectionEl.querySelectorAll("[role=alert]")].map((el) => clean(el.innerText || "")).filter(Boolean);
      const intro = [count && clean(count.innerText), heading && words(heading), ...alerts].filter(Boolean).join(". ");
      say(intro, true);
      say(words(target), false);
    } else {
      say(words(target || heading), true);
    }
  }

  function start(viaKey) {
    if (on) return;
    on = true;
    button.setAttribute("aria-pressed", "true");
    document.body.classList.add("audio-mode");
    const s = section();
    const first = s && firstOption(s);
    say("Modo accesible activado. Use las flechas para moverse entre las opciones, la tecla Enter para elegir " +
      "y la tecla Escape para volver.", true);
    if (s && s.querySelector("h1")) say(words(s.querySelector("h1")), false);
    if (first) {
      quietFocus = true;
      first.focus();
      quietFocus = false;
      say(words(first), false);
    }
    if (window.TurneroKiosk && TurneroKiosk.announce) TurneroKiosk.announce("Modo accesible activado.");
  }

  function stop() {
    if (!on) return;
    if (window.speechSynthesis) speechSynthesis.cancel();
    on = false;
    button.setAttribute("aria-pressed", "false");
    document.body.classList.remove("audio-mode");
  }

  button.addEventListener("click", () => { if (on) stop(); else start(false); });

  // Speak what the citizen reaches with Tab (or a screen reader's own moves).
  document.addEventListener("focusin", (e) => {
    if (on && !quietFocus && root.contains(e.target)) say(words(e.target), true);
  });

  // ---- keys: any key starts audio mode, but not a QR reader's burst (characters a few
  // ms apart, then Enter), which kiosk-checkin.js reads as a cita's code.
  const BURST_MS = 60;
  let lastChar = -1e9;
  let pending = null;
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    const now = performance.now();
    const printable = e.key.length === 1 && e.key !== " ";
    if (!on) {
      if (printable) {
        const burst = now - lastChar < BURST_MS;
        lastChar = now;
        clearTimeout(pending);
        pending = burst ? null : setTimeout(() => start(true), 300);
        return;
      }
      if (e.key === "Enter" && now - lastChar < 500) return;  // a reader's Enter
      if (["Shift", "CapsLock", "Dead", "Unidentified"].includes(e.key)) return;
      clearTimeout(pending);
      e.preventDefault();  // the key wakes the mode; the focus goes to the first option
      start(true);
      return;
    }
    const keys = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 };
    if (e.key in keys) { e.preventDefault(); move(keys[e.key]); return; }
    if (e.key === "Home") { e.preventDefault(); move(0, "first"); return; }
    if (e.key === "End") { e.preventDefault(); move(0, "last"); return; }
    if ((e.key === "Enter" || e.key === " ") && document.activeElement && document.activeElement.tagName !== "BUTTON") {
      e.preventDefault();
      move(1);  // on a heading (or nowhere): go to the first option
    }
  });

  window.TurneroKioskAudio = {
    get on() { return on; },
    start, stop, say, stepShown, words,
    // The step's first option: the one marked data-first (the phone's «Omitir»), else the first button.
    firstOption,
  };
})();
