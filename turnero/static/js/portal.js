/* Citizen portal: book a cita (trámite -> office -> day and time -> data -> confirmation)
   and look up, cancel or reschedule one. Plain JS for cheap phones on slow links: the
   catalogue comes inline with the page, the rest from the JSON API. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("portal-data").textContent);
  const $ = (id) => document.getElementById(id);
  const REQUEST_TIMEOUT_MS = 30000; // a slow 3G link answers late, but it answers
  const WINDOW_DAYS = data.window_days || 31; // today and the 30 days after it
  const CACHE_MS = 60000; // availability seen less than a minute ago is reused
  // The calendar file and QR code of a cita, by its unguessable id (no document needed).
  const PATHS = {
    ics: (a) => (a.links && a.links.ics) || "/api/appointments/" + encodeURIComponent(a.id) + "/calendar.ics",
    qr: (a) => (a.links && a.links.qr) || "/api/appointments/" + encodeURIComponent(a.id) + "/qr.svg",
  };

  // The one formatter of wait estimates (eta-format.js), fetched once, when a hint needs it.
  let etaLoading = null;
  function etaFormat() {
    if (window.TurneroEta) return Promise.resolve(window.TurneroEta);
    if (!etaLoading) {
      etaLoading = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = "/static/js/eta-format.js";
        script.onload = () => (window.TurneroEta ? resolve(window.TurneroEta) : reject(new Error("eta-format.js")));
        script.onerror = () => { etaLoading = null; reject(new Error("eta-format.js")); };
        document.head.append(script);
      });
    }
    return etaLoading;
  }

  // ------------------------------------------------------------------ HTTP

  class PortalError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  async function call(method, url, body, headers) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    const init = {
      method, signal: controller.signal, credentials: "same-origin", cache: "no-store",
      headers: Object.assign({ Accept: "application/json" }, headers || {}),
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res, payload = null;
    try {
      res = await fetch(url, init);
      try { payload = await res.json(); } catch (e) { /* not JSON (a proxy's page) */ }
    } catch (e) {
      const code = controller.signal.aborted ? "timeout" : "network";
      throw new PortalError(0, code, "");
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) {
      const err = payload && payload.error;
      throw new PortalError(res.status, (err && err.code) || "http_" + res.status, (err && err.message) || "",
        parseInt(res.headers.get("Retry-After") || "", 10) || null);
    }
    return payload;
  }

  const MESSAGES = {
    slot_full: "Ese horario se acaba de llenar, elija otro.",
    already_booked: "Ya tiene una cita activa para este trámite con esa cédula. Puede verla, cambiarla o cancelarla en «Mi cita».",
    network: "No hay conexión con el servidor. Revise su internet e intente de nuevo.",
    timeout: "El servidor tarda demasiado en responder. Revise su conexión e intente de nuevo.",
  };

  function messageOf(err) {
    if (!(err instanceof PortalError)) return "Ocurrió un error inesperado en la página. Recárguela e intente de nuevo.";
    if (MESSAGES[err.code]) return MESSAGES[err.code];
    if (err.status === 429) {
      const wait = err.retryAfter ? " " + Math.max(1, Math.ceil(err.retryAfter / 60)) + " minuto(s)" : " un momento";
      return "Hizo demasiados intentos seguidos. Espere" + wait + " y vuelva a intentar.";
    }
    if (err.status >= 500) return "El sistema tiene un problema en este momento. Intente de nuevo en unos minutos.";
    return err.message || "No se pudo completar la operación. Intente de nuevo.";
  }

  // Errors where trying the same request again can help (the link or the server's load).
  const retryable = (err) => err instanceof PortalError && (err.status === 0 || err.status === 429 || err.status >= 500);

  // A random key per booking attempt: a double tap or a retry after a lost answer sends
  // the same key, so the server returns the first cita instead of booking twice.
  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes); // available on plain http too, unlike randomUUID
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ------------------------------------------------------------------ messages

  const notice = {
    show(message, { retry = null, link = null } = {}) {
      $("notice-text").textContent = message;
      if (link) {
        const a = document.createElement("a");
        a.href = link.href;
        a.textContent = link.text;
        $("notice-text").append(" ", a);
      }
      const button = $("notice-retry");
      button.hidden = !retry;
      button.onclick = retry ? () => { notice.hide(); retry(); } : null;
      $("notice").hidden = false;
      $("notice").scrollIntoView({ block: "nearest" });
    },
    hide() { $("notice").hidden = true; },
    error(err, retry) {
      notice.show(messageOf(err), {
        retry: retryable(err) ? retry : null,
        link: err.code === "already_booked" ? { href: "/citas/consultar", text: "Ir a «Mi cita»" } : null,
      });
    },
  };

  // ------------------------------------------------------------------ dates
  // Slot times come with the office's offset (-04:00): their text already is local time,
  // so the page reads date and hour from it and never converts through the phone's zone.

  const slotDay = (start) => start.slice(0, 10);
  const slotTime = (start) => start.slice(11, 16);
  const asUTC = (iso) => new Date(Date.UTC(+iso.slice(0, 4), +iso.slice(5, 7) - 1, +iso.slice(8, 10)));
  const isoOf = (d) => d.toISOString().slice(0, 10);
  const addDays = (iso, n) => { const d = asUTC(iso); d.setUTCDate(d.getUTCDate() + n); return isoOf(d); };
  const fmt = (options) => new Intl.DateTimeFormat("es-BO", Object.assign({ timeZone: "UTC" }, options));
  const longDay = fmt({ weekday: "long", day: "numeric", month: "long" });
  const longDayYear = fmt({ weekday: "long", day: "numeric", month: "long", year: "numeric" });
  const shortDay = fmt({ weekday: "short", day: "numeric", month: "short" });
  const monthName = fmt({ month: "long", year: "numeric" });
  const capital = (s) => s.charAt(0).toUpperCase() + s.slice(1);
  const whenLabel = (start) => capital(longDayYear.format(asUTC(slotDay(start)))) + ", " + slotTime(start);
  const places = (n) => n + (n === 1 ? " lugar" : " lugares");

  function todayAt(office) {
    // The server's date for the office, unless the page stayed open past midnight.
    const parts = new Intl.DateTimeFormat("en-CA", { timeZone: office.timezone, year: "numeric", month: "2-digit", day: "2-digit" })
      .formatToParts(new Date());
    const get = (t) => parts.find((p) => p.type === t).value;
    const device = get("year") + "-" + get("month") + "-" + get("day");
    return device > office.today && device <= addDays(office.today, 1) ? device : office.today;
  }

  // ------------------------------------------------------------------ catalogue and availability

  const serviceBy = (code) => data.services.find((s) => s.code === code) || null;
  const officeBy = (code) => data.offices.find((o) => o.code === code) || null;
  const cache = new Map();

  async function availability(office, service, { fresh = false } = {}) {
    const key = office.code + "|" + service;
    const hit = cache.get(key);
    if (!fresh && hit && Date.now() - hit.at < CACHE_MS) return hit.slots;
    const url = "/api/offices/" + encodeURIComponent(office.code) + "/availability?service=" +
      encodeURIComponent(service) + "&from=" + todayAt(office) + "&days=" + WINDOW_DAYS;
    const slots = await call("GET", url);
    slots.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    cache.set(key, { at: Date.now(), slots });
    return slots;
  }

  const firstFree = (slots, need = 1) => slots.find((s) => s.available >= need) || null;

  // ------------------------------------------------------------------ calendar (shared)
  // A month grid of the booking window; a day with free places is a button; its times
  // appear below. `onPick(slot)` receives the chosen slot.

  // Keyboard (issue 18): the calendar is one tab stop (roving tabindex); the arrows move
  // by day and by week, Home/End to the week's first and last day; Enter or Space chooses.
  // A day without free times can be reached (aria-disabled) but not chosen.
  function Calendar(onPick) {
    let slots = [];
    let chosenDay = null;
    let chosenStart = null;
    let blockedStart = null; // the cita being rescheduled: not a choice
    let need = 1;

    function byDay() {
      const days = new Map();
      for (const s of slots) {
        const d = slotDay(s.start);
        if (!days.has(d)) days.set(d, []);
        days.get(d).push(s);
      }
      return days;
    }

    const usable = (s) => s.available >= need && s.start !== blockedStart;

    function render(office) {
      const root = $("calendar");
      root.textContent = "";
      const days = byDay();
      const first = todayAt(office);
      let last = addDays(first, WINDOW_DAYS - 1);
      for (const d of days.keys()) if (d > last) last = d;
      if (![...days.values()].some((list) => list.some(usable))) {
        const p = document.createElement("p");
        p.className = "alert alert-info";
        p.textContent = "No quedan horarios libres en los próximos " + WINDOW_DAYS +
          " días en esta oficina. Elija otra oficina o vuelva a intentar mañana: cada día se abren nuevos horarios.";
        root.append(p);
        $("times-box").hidden = true;
        return;
      }
      let cursor = first.slice(0, 8) + "01";
      while (cursor <= last) {
        const month = document.createElement("div");
        month.className = "cal-month";
        const title = document.createElement("h2");
        title.textContent = capital(monthName.format(asUTC(cursor)));
        const grid = document.createElement("div");
        grid.className = "cal-grid";
        for (const name of ["lu", "ma", "mi", "ju", "vi", "sá", "do"]) {
          const h = document.createElement("span");
          h.className = "cal-head";
          h.setAttribute("aria-hidden", "true");
          h.textContent = name;
          grid.append(h);
        }
        const pad = (asUTC(cursor).getUTCDay() + 6) % 7; // Monday first
        for (let i = 0; i < pad; i++) grid.append(Object.assign(document.createElement("span"), { className: "cal-pad" }));
        const monthKey = cursor.slice(0, 7);
        let day = cursor;
        while (day.slice(0, 7) === monthKey) {
          grid.append(dayCell(day, days.get(day) || [], day < first || day > last));
          day = addDays(day, 1);
        }
        month.append(title, grid);
        root.append(month);
        cursor = day;
      }
      const legend = document.createElement("p");
      legend.className = "cal-legend";
      legend.id = "cal-legend";
      legend.textContent = "Los días en gris no tienen horarios libres (feriados, fines de semana o ya reservados). " +
        "Con el teclado: flechas para cambiar de día o de semana, Enter para elegir.";
      root.append(legend);
      if (!chosenDay || !(days.get(chosenDay) || []).some(usable)) {
        const free = slots.find(usable);
        chosenDay = free ? slotDay(free.start) : null;
      }
      showTimes(false);
      rove(chosenDay);
    }

    const dayButton = (day) => day && $("calendar").querySelector('.cal-day[data-day="' + day + '"]');

    // The one tab stop of the calendar: `day` (else the first day that can be chosen).
    function rove(day) {
      const buttons = [...$("calendar").querySelectorAll(".cal-day[data-day]")];
      if (!buttons.length) return null;
      const stop = dayButton(day) || buttons.find((b) => b.getAttribute("aria-disabled") !== "true") || buttons[0];
      for (const b of buttons) b.tabIndex = b === stop ? 0 : -1;
      return stop;
    }

    $("calendar").addEventListener("keydown", (e) => {
      const b = e.target.closest && e.target.closest(".cal-day[data-day]");
      if (!b || e.altKey || e.ctrlKey || e.metaKey) return;
      const day = b.dataset.day;
      const weekday = (asUTC(day).getUTCDay() + 6) % 7; // Monday 0
      const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7, Home: -weekday, End: 6 - weekday };
      if (!(e.key in moves)) return;
      e.preventDefault();
      let target = dayButton(addDays(day, moves[e.key]));
      if (!target && (e.key === "Home" || e.key === "End")) { // the week starts or ends outside the window
        const step = e.key === "Home" ? 1 : -1;
        for (let d = addDays(day, moves[e.key]); d !== day && !target; d = addDays(d, step)) target = dayButton(d);
      }
      if (!target) return; // the window's edge
      rove(target.dataset.day);
      target.focus();
    });

    function dayCell(day, list, outside) {
      const free = list.filter(usable).length;
      if (outside && !list.length) {
        const span = document.createElement("span");
        span.className = "cal-day cal-off";
        span.setAttribute("aria-hidden", "true");
        span.textContent = String(+day.slice(8));
        return span;
      }
      const b = document.createElement("button");
      b.type = "button";
      b.className = "cal-day";
      b.dataset.day = day;
      b.tabIndex = -1;
      if (free === 0) b.setAttribute("aria-disabled", "true");
      b.innerHTML = "<span></span> <small></small>"; // the space: "5 libre", as the name starts
      b.firstChild.textContent = String(+day.slice(8));
      b.lastChild.textContent = free ? "libre" : list.length ? "lleno" : "";
      // The name starts with what is seen on the button ("5 libre"), then says it in full.
      const seen = (b.firstChild.textContent + " " + b.lastChild.textContent).trim();
      b.setAttribute("aria-label", seen + ", " + longDay.format(asUTC(day)) + ", " + (free ? free + (free === 1 ? " horario libre" : " horarios libres")
        : list.length ? "lleno" : "sin atención"));
      b.setAttribute("aria-pressed", String(day === chosenDay));
      b.addEventListener("click", () => {
        rove(day);
        if (b.getAttribute("aria-disabled") === "true") return;
        chosenDay = day;
        markDay();
        showTimes(true);
      });
      return b;
    }

    function markDay() {
      document.querySelectorAll("#calendar .cal-day[data-day]").forEach((b) => {
        b.setAttribute("aria-pressed", String(b.dataset.day === chosenDay));
      });
    }

    function showTimes(focus) {
      const box = $("times-box");
      if (!chosenDay) { box.hidden = true; return; }
      const list = slots.filter((s) => slotDay(s.start) === chosenDay);
      $("times-title").textContent = "Horarios del " + longDay.format(asUTC(chosenDay));
      const times = $("times");
      times.textContent = "";
      let part = null;
      for (const s of list) {
        const p = slotTime(s.start) < "12:00" ? "Mañana" : "Tarde";
        if (p !== part) {
          part = p;
          const h = document.createElement("p");
          h.className = "times-part";
          h.textContent = p;
          times.append(h);
        }
        const b = document.createElement("button");
        b.type = "button";
        b.className = "time";
        b.dataset.start = s.start;
        b.disabled = !usable(s);
        b.innerHTML = "<b></b> <small></small>"; // "08:00 3 lugares", as the name reads
        b.firstChild.textContent = slotTime(s.start);
        b.lastChild.textContent = s.start === blockedStart ? "su cita" : s.available >= need ? places(s.available)
          : s.available ? "solo " + s.available : "lleno";
        b.setAttribute("aria-pressed", String(s.start === chosenStart));
        b.setAttribute("aria-label", slotTime(s.start) + ", " + b.lastChild.textContent);
        b.addEventListener("click", () => {
          chosenStart = s.start;
          times.querySelectorAll(".time").forEach((t) => t.setAttribute("aria-pressed", String(t === b)));
          onPick(s);
        });
        times.append(b);
      }
      box.hidden = false;
      markDay();
      if (focus) $("times-title").focus();
    }

    return {
      // focus: move the focus into the calendar (its chosen day) once it is drawn, unless
      // the citizen has moved it elsewhere meanwhile.
      async load(office, service, { fresh = false, blocked = null, partySize = 1, day = null, focus = false } = {}) {
        const before = document.activeElement;
        blockedStart = blocked;
        if (day) chosenDay = day; // kept if that day still has a free time
        need = partySize;
        $("slot-loading").hidden = false;
        $("calendar").setAttribute("aria-busy", "true");
        try {
          slots = await availability(office, service, { fresh });
        } finally {
          $("slot-loading").hidden = true;
          $("calendar").removeAttribute("aria-busy");
        }
        render(office);
        if (focus && (document.activeElement === before || document.activeElement === document.body)) {
          const stop = $("calendar").querySelector('.cal-day[tabindex="0"]');
          if (stop) stop.focus();
        }
      },
      reset() { chosenDay = null; chosenStart = null; },
      clear() { $("calendar").textContent = ""; $("times-box").hidden = true; },
    };
  }

  function renderRequirements(list, service) {
    list.textContent = "";
    const reqs = (service && service.requirements) || [];
    for (const r of reqs.length ? reqs : ["Su cédula de identidad vigente"]) {
      const li = document.createElement("li");
      li.textContent = r;
      list.append(li);
    }
  }

  function linkTo(anchor, href, filename) {
    anchor.hidden = !href;
    if (href) {
      anchor.href = href;
      if (filename) anchor.setAttribute("download", filename);
    }
  }

  // ------------------------------------------------------------------ booking wizard

  function bookingPage() {
    const TOTAL = 5;
    const state = { step: 1, service: null, office: null, slot: null, booking: null, attempt: null, busy: false };
    const calendar = Calendar((slot) => { state.slot = slot; bind(); go(4); });
    const form = $("book-form");

    function bind() {
      const s = serviceBy(state.service);
      const o = officeBy(state.office);
      const values = {
        "service-name": s ? s.name : "",
        "office-name": o ? o.name + " (" + o.city + ")" : "",
        "slot-label": state.slot ? whenLabel(state.slot.start) : "",
      };
      document.querySelectorAll("[data-bind]").forEach((el) => { el.textContent = values[el.dataset.bind] || ""; });
    }

    // The furthest step the current choices allow.
    function reachable(step) {
      if (state.booking) return step === 5 ? 5 : 1;
      if (step >= 4 && !state.slot) step = 3;
      if (step >= 3 && !state.office) step = 2;
      if (step >= 2 && !state.service) step = 1;
      return Math.min(step, 4);
    }

    function go(step, { push = true } = {}) {
      step = reachable(step);
      if (state.booking && step === 1) resetAll();
      state.step = step;
      notice.hide();
      document.querySelectorAll("#booking .step").forEach((s) => { s.hidden = +s.dataset.step !== step; });
      $("progress-text").textContent = "Paso " + step + " de " + TOTAL;
      document.querySelectorAll(".progress-bar li").forEach((li) => {
        const n = +li.dataset.step;
        li.className = n < step ? "done" : n === step ? "current" : "";
      });
      document.title = ["", "Elija su trámite", "Elija la oficina", "Elija el día y la hora", "Sus datos", "Cita reservada"][step] +
        " · Citas en línea";
      if (push) history.pushState({ step }, "", "#paso-" + step);
      else history.replaceState({ step }, "", "#paso-" + step);
      window.scrollTo(0, 0);
      const heading = document.querySelector("#booking .step:not([hidden]) h1");
      if (heading) heading.focus({ preventScroll: true });
      if (step === 2) renderOffices();
      if (step === 3) loadCalendar(false);
      if (step === 4) prepareForm();
    }

    function resetAll() {
      state.service = state.office = state.slot = state.booking = state.attempt = null;
      calendar.reset();
      form.reset();
      document.querySelectorAll(".option[aria-pressed]").forEach((b) => b.setAttribute("aria-pressed", "false"));
    }

    window.addEventListener("popstate", (e) => {
      go((e.state && e.state.step) || 1, { push: false });
    });
    document.querySelectorAll("[data-go]").forEach((b) => b.addEventListener("click", () => go(+b.dataset.go)));

    // ---- 1: trámite
    document.querySelectorAll("[data-service]").forEach((b) => {
      b.addEventListener("click", () => {
        if (state.service !== b.dataset.service) { state.office = null; state.slot = null; calendar.reset(); }
        state.service = b.dataset.service;
        document.querySelectorAll("[data-service]").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
        bind();
        go(2);
      });
    });

    // ---- 2: office, with its next free time
    // The catalogue draws the list at once; one request then brings every office's next
    // free time (and drops an office that takes no citas for this trámite).
    const nextLabel = (slot) =>
      "Próximo horario libre: " + capital(shortDay.format(asUTC(slotDay(slot.start)))) + ", " + slotTime(slot.start);

    function showNext(target, slot) {
      target.className = "option-next " + (slot ? "free" : "none");
      target.textContent = slot ? nextLabel(slot) : "Sin horarios libres por ahora";
    }

    /* Today's wait without a cita at each office, from the offices' ranking (issue 8);
       the fastest one is marked. Only a hint: nothing happens if it cannot be read.
       In the words of every other surface (eta-format.js, loaded with the first hint):
       "Hoy sin cita: espera entre 35 y 50 min", "… espera ≈ 12 min", "… sin espera". */
    async function showWalkInWaits(service, targets) {
      let ranking, eta;
      try {
        [ranking, eta] = await Promise.all([
          call("GET", "/api/services/" + encodeURIComponent(service) + "/ranking"), etaFormat()]);
      } catch (err) { return; }
      if (service !== state.service) return;
      ranking.offices.forEach((o, i) => {
        const t = targets.get(o.office);
        if (!t || o.estimated_wait_minutes === null || o.open_desks === 0) return;
        const line = document.createElement("span");
        line.className = "option-line option-walkin";
        // (the ranking's entry: its figure, range when it has one, and open desks)
        const wait = eta.noWait(o.estimated_wait_minutes, o) ? "sin espera" : "espera " + eta.line(o);
        line.textContent = "Hoy sin cita: " + wait +
          (i === 0 && ranking.offices.length > 1 ? " (la menor)" : "");
        t.next.after(line);
      });
    }

    async function renderOffices() {
      const service = state.service;
      const list = $("office-list");
      list.textContent = "";
      const targets = new Map();
      for (const office of data.offices.filter((o) => o.services.includes(service))) {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.className = "option";
        b.dataset.office = office.code;
        b.setAttribute("aria-pressed", String(office.code === state.office));
        b.innerHTML = '<span class="option-title"></span><span class="option-line"></span><span class="option-next"></span>';
        b.children[0].textContent = office.name;
        b.children[1].textContent = office.address + " · " + office.city;
        b.children[2].textContent = "Buscando el próximo horario libre…";
        b.addEventListener("click", () => {
          if (state.office !== office.code) { state.slot = null; calendar.reset(); }
          state.office = office.code;
          bind();
          go(3);
        });
        li.append(b);
        list.append(li);
        targets.set(office.code, { li, next: b.children[2], office });
      }
      list.setAttribute("aria-busy", "true");
      try {
        const offices = await call("GET", "/api/services/" + encodeURIComponent(service) + "/offices");
        if (service !== state.service || state.step !== 2) return;
        const found = new Map(offices.map((o) => [o.code, o]));
        for (const [code, t] of targets) {
          if (!found.has(code)) t.li.remove();
          else showNext(t.next, found.get(code).next_free);
        }
        showWalkInWaits(service, targets);
      } catch (err) {
        // Older servers or a hiccup: ask each office's calendar instead (few offices).
        for (const t of targets.values()) nextFreeFromCalendar(t.office, t.next, service);
      } finally {
        list.setAttribute("aria-busy", "false");
      }
    }

    async function nextFreeFromCalendar(office, target, service) {
      try {
        const slot = firstFree(await availability(office, service));
        if (service === state.service) showNext(target, slot);
      } catch (err) {
        target.className = "option-next";
        target.textContent = "No se pudo consultar: toque para ver el calendario";
      }
    }

    // ---- 3: day and time
    async function loadCalendar(fresh) {
      const office = officeBy(state.office);
      calendar.clear();
      try {
        await calendar.load(office, state.service, { fresh, partySize: 1, focus: true });
      } catch (err) {
        notice.show(messageOf(err), { retry: () => loadCalendar(true) });
      }
    }

    // ---- 4: the citizen's data
    function prepareForm() {
      const s = serviceBy(state.service);
      $("category-field").hidden = !(s && (s.kind === "exam" || s.kind === "practical"));  // the licence category
      documentType();
      bind();
    }

    const fields = {
      name: $("f-name"), type: $("f-doctype"), doc: $("f-doc"), comp: $("f-comp"), issued: $("f-issued"),
      phone: $("f-phone"), party: $("f-party"), category: $("f-category"),
    };
    // What a valid number looks like per document type (the API checks the same).
    const DOCUMENTS = {
      ci: { pattern: /^\d{5,10}$/, hint: "Solo números, de 5 a 10 dígitos, sin puntos.", keyboard: "numeric",
            error: "El número de cédula tiene de 5 a 10 dígitos, sin puntos ni letras." },
      cie: { pattern: /^\d{5,10}$/, hint: "Los números de su cédula de extranjero, sin la E inicial.", keyboard: "numeric",
             error: "El número de cédula de extranjero tiene de 5 a 10 dígitos." },
      passport: { pattern: /^[A-Z0-9]{6,12}$/, hint: "Letras y números tal como figuran en su pasaporte.", keyboard: "text",
                  error: "El número de pasaporte tiene de 6 a 12 letras y números." },
    };
    function documentType() {
      const doc = DOCUMENTS[fields.type.value];
      document.querySelectorAll("[data-ci-only]").forEach((el) => { el.hidden = fields.type.value !== "ci"; });
      $("h-doc").textContent = doc.hint;
      fields.doc.setAttribute("inputmode", doc.keyboard);
      return doc;
    }
    fields.type.addEventListener("change", documentType);

    function setError(input, errorId, message) {
      $(errorId).textContent = message || "";
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
      return !message;
    }

    function validate() {
      const digits = (v) => v.replace(/[\s.\-]/g, "");
      const docRule = documentType();
      fields.doc.value = digits(fields.doc.value).toUpperCase().replace(/^E(?=\d)/, "");
      if (fields.type.value !== "ci") { fields.comp.value = ""; fields.issued.value = ""; }
      fields.phone.value = digits(fields.phone.value).replace(/^(\+?591)/, "");
      fields.comp.value = fields.comp.value.trim().toUpperCase();
      const name = fields.name.value.trim().replace(/\s+/g, " ");
      const party = +fields.party.value;
      const checks = [
        [fields.name, "e-name", name.length < 3 ? "Escriba su nombre completo." : ""],
        [fields.doc, "e-doc", !docRule.pattern.test(fields.doc.value) ? docRule.error : ""],
        [fields.comp, "e-doc", fields.comp.value && !/^[0-9][A-Z]$/.test(fields.comp.value) && docRule.pattern.test(fields.doc.value)
          ? "El complemento es un número y una letra, por ejemplo 1B." : null],
        [fields.phone, "e-phone", fields.phone.value && !/^[67]\d{7}$/.test(fields.phone.value)
          ? "El celular tiene 8 dígitos y empieza con 6 o 7." : ""],
        [fields.party, "e-party", state.slot && party > state.slot.available
          ? "A esa hora queda " + places(state.slot.available) + ". Elija menos personas u otro horario." : ""],
        [fields.category, "e-category", !$("category-field").hidden && !fields.category.value
          ? "Elija la categoría de licencia." : ""],
      ];
      let firstBad = null;
      for (const [input, errorId, message] of checks) {
        if (message === null) continue; // keeps the message of the field sharing the line
        if (!setError(input, errorId, message) && !firstBad) firstBad = input;
      }
      const [members, memberError, memberField] = readMembers();
      $("e-members").textContent = memberError;
      if (memberError && !firstBad) firstBad = memberField;
      if (!memberError && members.length && state.slot && 1 + members.length > state.slot.available && !firstBad) {
        $("e-members").textContent = "A esa hora queda " + places(state.slot.available) + ". Elija otro horario.";
        firstBad = $("member-add");
      }
      if (firstBad) firstBad.focus();
      return !firstBad;
    }

    // ---- minors with their tutor (issue 20): «Agregar menor» rows, up to MAX_MINORS
    const MAX_MINORS = 6;
    const memberRows = () => [...$("member-rows").querySelectorAll(".member-row")];
    function syncParty() {
      const n = memberRows().length;
      $("member-add").disabled = n >= MAX_MINORS;
      fields.party.disabled = n > 0; // the group is the tutor and the minors
      if (n > 0) fields.party.value = String(Math.min(1 + n, fields.party.options.length));
    }
    $("member-add").addEventListener("click", () => {
      if (memberRows().length >= MAX_MINORS) return;
      const row = $("member-row").content.firstElementChild.cloneNode(true);
      const remove = row.querySelector(".member-remove");
      remove.setAttribute("aria-label", "Quitar al menor " + (memberRows().length + 1));
      remove.addEventListener("click", () => { row.remove(); syncParty(); $("member-add").focus(); });
      $("member-rows").append(row);
      syncParty();
      row.querySelector("input").focus();
    });
    // [members, message, the field to fix]: a blank row is left out.
    function readMembers() {
      const members = [];
      for (const [i, row] of memberRows().entries()) {
        const el = (name) => row.querySelector("[name=" + name + "]");
        const m = { name: el("m-name").value.trim().replace(/\s+/g, " "), document_type: el("m-type").value,
          document: el("m-doc").value.replace(/[\s.\-/]/g, "").toUpperCase(), age: el("m-age").value };
        if (!m.name && !m.document && m.age === "") continue;
        const which = "Menor " + (i + 1) + ": ";
        if (!m.name) return [members, which + "escriba su nombre.", el("m-name")];
        if (!/^[A-Z0-9]{1,20}$/.test(m.document)) return [members, which + "escriba el número de su documento.", el("m-doc")];
        if (m.age === "") return [members, which + "elija su edad.", el("m-age")];
        m.age = +m.age;
        members.push(m);
      }
      return [members, "", null];
    }

    function bookingBody() {
      const document_ = { number: fields.doc.value };
      if (fields.type.value !== "ci") document_.type = fields.type.value;
      if (fields.comp.value) document_.complement = fields.comp.value;
      if (fields.issued.value) document_.issued_in = fields.issued.value;
      const body = {
        office: state.office, service: state.service, start: state.slot.start, document: document_,
        name: fields.name.value.trim().replace(/\s+/g, " "), party_size: +fields.party.value,
      };
      if (fields.phone.value) body.phone = "+591" + fields.phone.value;
      if (!$("category-field").hidden) body.category = fields.category.value;
      const members = readMembers()[0];
      if (members.length) { body.members = members; delete body.party_size; }
      return body;
    }

    async function submit() {
      if (state.busy) return; // a second tap while the first is on its way
      if (!validate()) return;
      const body = bookingBody();
      const fingerprint = JSON.stringify(body);
      // Same data as the last attempt: same key (the server answers with that cita).
      if (!state.attempt || state.attempt.fingerprint !== fingerprint) state.attempt = { fingerprint, key: newKey() };
      state.busy = true;
      const button = $("book-submit");
      button.disabled = true;
      button.textContent = "Reservando…";
      notice.hide();
      try {
        const booking = await call("POST", "/api/appointments", body, { "Idempotency-Key": state.attempt.key });
        state.booking = booking;
        state.typed = body; // the API masks the document in its answer; show what was typed
        showConfirmation();
      } catch (err) {
        // A refusal is final for that key: a later attempt (another time, a corrected
        // field, the same time freed again) must not be answered with the stored refusal.
        if (!retryable(err)) state.attempt = null;
        if (err.code === "slot_full") {
          state.slot = null;
          go(3);
          await loadCalendar(true);
          notice.show(MESSAGES.slot_full);
        } else {
          notice.error(err, submit);
        }
      } finally {
        state.busy = false;
        button.disabled = false;
        button.textContent = "Confirmar cita";
      }
    }
    form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });

    // ---- 5: confirmation
    function showConfirmation() {
      const b = state.booking;
      const typed = state.typed;
      const s = serviceBy(b.service) || serviceBy(state.service);
      const o = officeBy(b.office) || officeBy(state.office);
      $("c-code").textContent = b.code;
      $("c-when").textContent = whenLabel(b.start);
      $("c-office").textContent = b.office_name || (o ? o.name : b.office);
      $("c-address").textContent = o ? o.address + ", " + o.city : b.office_address || "";
      const doc = typed.document;
      const docName = { ci: "CI", cie: "CIE", passport: "Pasaporte" }[doc.type || "ci"];
      const who = [typed.name, docName + " " + doc.number + (doc.complement ? "-" + doc.complement : "") +
        (doc.issued_in ? " " + doc.issued_in : "")];
      const party = b.party_size || typed.party_size;
      if (party > 1) who.push(party + " personas" + (typed.members ? " (con " + typed.members.length +
        (typed.members.length === 1 ? " menor)" : " menores)") : ""));
      $("c-who").textContent = who.join(" · ");
      renderRequirements($("c-reqs"), b.requirements ? { requirements: b.requirements } : s);
      linkTo($("c-ics"), PATHS.ics(b), "cita-" + b.code + ".ics");
      $("c-qr").onerror = () => { $("c-qr-box").hidden = true; };
      $("c-qr").onload = () => { $("c-qr-box").hidden = false; };
      $("c-qr").src = PATHS.qr(b);
      $("c-manage").href = "/citas/consultar?codigo=" + encodeURIComponent(b.code);
      if (b.checkin_from && b.checkin_until) {
        $("c-window").textContent = "Registre su llegada entre las " + slotTime(b.checkin_from) + " y las " +
          slotTime(b.checkin_until) + " del día de su cita. Si llega más tarde, pierde la prioridad de la cita.";
      }
      go(5, { push: false });
      cache.clear(); // the places changed
    }
    $("c-print").addEventListener("click", () => window.print());

    // Start: step 1, or straight to the offices for a link with ?tramite=CODE.
    history.replaceState({ step: 1 }, "", location.pathname + location.search + "#paso-1");
    if (data.chosen_service) {
      state.service = data.chosen_service;
      bind();
      go(2);
    } else {
      go(1, { push: false });
    }
  }

  // ------------------------------------------------------------------ look up, cancel, reschedule

  function managePage() {
    let cita = null;
    let document_ = null;
    let newSlot = null;
    let busy = false;
    const calendar = Calendar((slot) => {
      newSlot = slot;
      $("resched-label").textContent = whenLabel(slot.start);
      $("resched-box").hidden = false;
      $("resched-yes").focus();
    });

    const url = (suffix) => "/api/appointments/" + encodeURIComponent(cita.code) + suffix;

    function setError(input, id, message) {
      $(id).textContent = message;
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
      return !message;
    }

    // One request at a time: a double tap on «Cancelar» or «Confirmar» sends one request.
    const ACTION_BUTTONS = ["lookup-submit", "m-cancel", "m-reschedule", "cancel-yes", "resched-yes"];
    async function guarded(fn) {
      if (busy) return;
      busy = true;
      ACTION_BUTTONS.forEach((id) => { $(id).disabled = true; });
      try {
        await fn();
      } finally {
        busy = false;
        ACTION_BUTTONS.forEach((id) => { $(id).disabled = false; });
      }
    }

    async function lookup() {
      const code = $("l-code").value.trim().toUpperCase().replace(/[\s\-]+/g, "");
      const doc = $("l-doc").value.replace(/[\s.]/g, "").toUpperCase();
      $("l-code").value = code;
      $("l-doc").value = doc;
      const okCode = setError($("l-code"), "e-code", code ? "" : "Escriba el código de su cita.");
      const okDoc = setError($("l-doc"), "e-ldoc", /^[A-Z0-9\-]{5,14}$/.test(doc) ? ""
        : "Escriba el número de su cédula (5 a 10 dígitos) o de su pasaporte.");
      if (!okCode) { $("l-code").focus(); return; }
      if (!okDoc) { $("l-doc").focus(); return; }
      notice.hide();
      $("done-msg").hidden = true;
      $("lookup-submit").textContent = "Buscando…";
      try {
        await guarded(async () => {
          try {
            const found = await call("GET", "/api/appointments/" + encodeURIComponent(code) + "?document=" + encodeURIComponent(doc));
            document_ = doc;
            show(found);
            $("h-cita").focus();
          } catch (err) {
            $("cita").hidden = true;
            $("resched").hidden = true;
            if (err.status === 404) notice.show("No encontramos una cita con ese código y ese número de cédula. Revise los datos e intente de nuevo.");
            else notice.error(err, lookup);
          }
        });
      } finally {
        $("lookup-submit").textContent = "Buscar mi cita";
      }
    }

    function show(found) {
      cita = found;
      const o = officeBy(cita.office);
      $("m-code").textContent = cita.code;
      const pill = $("m-status");
      pill.textContent = data.status_es[cita.status] || cita.status;
      pill.className = "status-pill status-" + cita.status;
      $("m-service").textContent = cita.service_name || cita.service;
      $("m-office").textContent = (cita.office_name || cita.office) + " — " +
        (o ? o.address + ", " + o.city : cita.office_address || "");
      $("m-when").textContent = whenLabel(cita.start);
      $("m-party-row").hidden = !(cita.party_size > 1);
      $("m-party").textContent = String(cita.party_size || 1);
      const booked = cita.status === "booked";
      $("m-checkin-row").hidden = !booked;
      $("m-checkin").textContent = "Registre su llegada en el quiosco entre las " + slotTime(cita.checkin_from) +
        " y las " + slotTime(cita.checkin_until) + ".";
      // Changes need the document (the code alone, or the QR's id, only shows the cita).
      const changeable = booked && cita.can_cancel !== false && document_ !== null;
      $("m-actions").hidden = !changeable;
      const deadline = $("m-deadline");
      deadline.hidden = !booked || document_ === null;
      deadline.textContent = cita.can_cancel === false
        ? "El plazo para cambiar o cancelar esta cita venció (" + whenLabel(cita.cancel_until).toLowerCase() + ")."
        : "Puede cambiarla o cancelarla hasta el " + whenLabel(cita.cancel_until).toLowerCase() + ".";
      $("cancel-box").hidden = true;
      linkTo($("m-ics"), booked ? PATHS.ics(cita) : null, "cita-" + cita.code + ".ics");
      $("m-qr-box").hidden = !booked;
      if (booked) $("m-qr").src = PATHS.qr(cita);
      $("m-reqs-box").hidden = !booked;
      renderRequirements($("m-reqs"), { requirements: cita.requirements || [] });
      $("cita").hidden = false;
      $("resched").hidden = true;
    }

    $("lookup-form").addEventListener("submit", (e) => { e.preventDefault(); lookup(); });

    $("m-cancel").addEventListener("click", () => {
      $("resched").hidden = true;
      $("cancel-box").hidden = false;
      $("cancel-no").focus();
    });
    $("cancel-no").addEventListener("click", () => { $("cancel-box").hidden = true; $("m-cancel").focus(); });
    async function cancel() {
      notice.hide();
      await guarded(async () => {
        try {
          show(await call("POST", url("/cancel"), { document: document_ }));
          $("done-msg").textContent = "Su cita fue cancelada. El lugar quedó libre para otra persona.";
          $("done-msg").hidden = false;
          $("h-cita").focus();
        } catch (err) {
          notice.error(err, cancel);
        }
      });
    }
    $("cancel-yes").addEventListener("click", cancel);

    async function openCalendar(fresh) {
      const office = officeBy(cita.office);
      $("cancel-box").hidden = true;
      $("resched-box").hidden = true;
      $("resched").hidden = false;
      newSlot = null;
      calendar.reset();
      calendar.clear();
      $("h-resched").focus();
      try {
        await calendar.load(office, cita.service, {
          fresh, blocked: cita.start, partySize: cita.party_size || 1, day: slotDay(cita.start), focus: true,
        });
      } catch (err) {
        notice.show(messageOf(err), { retry: () => openCalendar(true) });
      }
    }
    $("m-reschedule").addEventListener("click", () => openCalendar(false));
    $("resched-no").addEventListener("click", () => { $("resched").hidden = true; $("m-reschedule").focus(); });

    async function reschedule() {
      if (!newSlot) return;
      notice.hide();
      await guarded(async () => {
        try {
          show(await call("POST", url("/reschedule"), { document: document_, start: newSlot.start }));
          cache.clear();
          $("done-msg").textContent = "Listo: su cita ahora es el " + whenLabel(cita.start).toLowerCase() + ".";
          $("done-msg").hidden = false;
          $("h-cita").focus();
        } catch (err) {
          if (err.code === "slot_full") {
            notice.show(MESSAGES.slot_full);
            await openCalendar(true);
            notice.show(MESSAGES.slot_full);
          } else {
            notice.error(err, reschedule);
          }
        }
      });
    }
    $("resched-yes").addEventListener("click", reschedule);

    // The page behind the QR code (/citas/{id}): the id alone shows the cita.
    async function loadById() {
      try {
        show(await call("GET", "/api/appointments/" + encodeURIComponent(data.cita_id)));
        $("l-code").value = cita.code;
      } catch (err) {
        if (err.status === 404) notice.show("No encontramos esa cita. Revise el enlace o búsquela con su código y documento.");
        else notice.error(err, loadById);
      }
    }
    if (data.cita_id) loadById();
    else if ($("l-code").value) $("l-doc").focus();
  }

  if (data.page === "book") bookingPage();
  else if (data.page === "manage") managePage();
})();
