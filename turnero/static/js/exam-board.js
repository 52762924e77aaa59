/* Proctor's room board: seat map, statistics, check-in and seat actions.
   Live by polling the board JSON every few seconds (the office WebSocket hub can
   replace the poll: events "exam.*" are already published on the office channel). */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("board-data").textContent);
  const base = "/api/exam/sessions/" + boot.session;
  const $ = (id) => document.getElementById(id);
  const STATE_ES = {
    free: "Libre", assigned: "Asignada", in_progress: "En examen", finished: "Terminó",
    out_of_service: "Fuera de servicio",
  };
  let board = boot.board;
  let selected = null;

  function say(text, ok) {
    $("message").textContent = text;
    $("message").className = "message " + (ok ? "ok" : "error");
  }

  function clock(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  function render() {
    const map = $("seat-map");
    map.textContent = "";
    board.seats.forEach(function (seat) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "seat st-" + seat.state + (selected === seat.number ? " selected" : "");
      b.dataset.seat = seat.number;
      b.dataset.state = seat.state;
      b.setAttribute("role", "listitem");
      const a = seat.attempt;
      let detail = STATE_ES[seat.state];
      if (a && seat.state === "in_progress") detail = a.answered + "/" + a.total + " · " + clock(a.seconds_left);
      if (a && seat.state === "finished") detail = (a.passed ? "Aprobó " : "Reprobó ") + a.percent + "%";
      b.innerHTML = '<span class="seat-no"></span><span class="seat-name"></span><span class="seat-detail"></span>';
      b.querySelector(".seat-no").textContent = seat.number;
      b.querySelector(".seat-name").textContent = a ? a.name : "";
      b.querySelector(".seat-detail").textContent = detail;
      b.title = "Computadora " + seat.number + ": " + STATE_ES[seat.state];
      b.addEventListener("click", function () { selected = seat.number; render(); });
      map.appendChild(b);
    });
    const st = board.stats;
    const rows = [
      ["Computadoras en servicio", st.seats_in_service + " de " + st.seats],
      ["Reservas", st.booked], ["Por llegar", st.expected], ["Ausentes", st.no_shows],
      ["Registrados", st.checked_in], ["En examen", st.in_progress], ["Terminaron", st.finished],
      ["Aprobados", st.passed], ["Reprobados", st.failed],
      ["Tasa de aprobación", st.pass_rate === null ? "—" : st.pass_rate + " %"],
      ["Asistencia", st.attendance_rate === null ? "—" : st.attendance_rate + " %"],
    ];
    const stats = $("stats");
    stats.textContent = "";
    rows.forEach(function (r) {
      const d = document.createElement("div");
      d.innerHTML = "<dt></dt><dd></dd>";
      d.querySelector("dt").textContent = r[0];
      d.querySelector("dd").textContent = r[1];
      stats.appendChild(d);
    });
    $("checkin-state").textContent = board.checkin_open ? "Registro abierto" :
      (board.started ? "Examen en curso · registro cerrado" : "Registro cerrado");
    $("btn-open").hidden = board.started || !board.checkin_open;
    const list = $("expected");
    list.textContent = "";
    $("expected-count").textContent = board.expected.length;
    board.expected.forEach(function (e) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "linkish";
      b.textContent = e.name + " · " + e.code + " · cat. " + (e.category || "?");
      b.title = "Completar el código de la cita";
      b.addEventListener("click", function () {
        document.querySelector("#checkin-form [name=booking]").value = e.code;
        document.querySelector("#checkin-form [name=presented_document]").focus();
      });
      li.appendChild(b);
      list.appendChild(li);
    });
    renderDetail();
  }

  function renderDetail() {
    const seat = board.seats.find((s) => s.number === selected);
    $("seat-detail").hidden = !seat;
    if (!seat) return;
    const a = seat.attempt;
    $("detail-title").textContent = "Computadora " + seat.number + " · " + STATE_ES[seat.state];
    $("detail-body").textContent = a
      ? a.name + " · CI " + a.document + " · categoría " + a.category + " · cita " + a.booking +
        " · " + a.answered + "/" + a.total + " respondidas"
      : "Sin postulante.";
    $("detail-link").href = "/exam/seat/" + seat.token;
    const active = a && (seat.state === "assigned" || seat.state === "in_progress");
    $("btn-swap").hidden = !active;
    $("btn-cancel").hidden = !(a && seat.state === "assigned");
    $("btn-out").hidden = !(seat.state === "free");
    $("btn-in").hidden = seat.in_service;
  }

  async function refresh() {
    try {
      board = (await Turnero.api("GET", base + "/board")).data;
      render();
    } catch (e) {
      if (e.status === 401) window.location.reload();
    }
  }

  async function act(method, url, body, done) {
    try {
      const res = await Turnero.api(method, url, body);
      say(done(res.data), true);
    } catch (e) {
      say(e.message, false);
    }
    await refresh();
  }

  $("checkin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const body = {};
    ["booking", "presented_document"].forEach(function (k) {
      const v = String(f.get(k) || "").trim();
      if (v) body[k] = v;
    });
    if (f.get("seat")) body.seat = Number(f.get("seat"));
    act("POST", base + "/checkins", body, function (a) {
      ev.target.reset();
      selected = a.seat;
      return a.name + ": computadora " + a.seat + ".";
    });
  });

  function seatUrl(suffix) {
    return "/api/exam/offices/" + encodeURIComponent(boot.office) + "/rooms/" +
      encodeURIComponent(board.room) + "/seats/" + selected + suffix;
  }
  function attemptId() {
    const seat = board.seats.find((s) => s.number === selected);
    return seat && seat.attempt ? seat.attempt.id : null;
  }
  $("btn-open").addEventListener("click", function () {
    if (!window.confirm("¿Iniciar el examen ahora? Se cierra el registro: quien llegue después no podrá rendir.")) return;
    act("POST", base + "/start", undefined, () => "Examen iniciado: los postulantes pueden comenzar.");
  });
  $("btn-swap").addEventListener("click", function () {
    if (!window.confirm("¿La computadora " + selected + " falla? El postulante pasa a otra computadora con sus respuestas y su tiempo.")) return;
    act("POST", "/api/exam/attempts/" + attemptId() + "/swap", { reason: "falla de la computadora" }, function (a) {
      selected = a.seat;
      return a.name + " pasa a la computadora " + a.seat + ".";
    });
  });
  $("btn-cancel").addEventListener("click", function () {
    if (!window.confirm("¿Anular el registro de la computadora " + selected + "?")) return;
    act("POST", "/api/exam/attempts/" + attemptId() + "/cancel", {}, () => "Registro anulado.");
  });
  $("btn-out").addEventListener("click", function () {
    act("POST", seatUrl("/out-of-service"), undefined, (s) => "Computadora " + s.number + " fuera de servicio.");
  });
  $("btn-in").addEventListener("click", function () {
    act("POST", seatUrl("/in-service"), undefined, (s) => "Computadora " + s.number + " en servicio.");
  });

  /* Live: the office's WebSocket feed (/ws/offices/{office}/board) carries "exam.*"
     events; each one for this session re-reads the board. While the socket is down
     the board polls every 3 s, and every 15 s anyway as a safety net. */
  let live = false;
  let lastPoll = 0;
  function connect() {
    let ws;
    try {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      ws = new WebSocket(scheme + location.host + "/ws/offices/" + encodeURIComponent(boot.office) + "/board");
    } catch (e) {
      setTimeout(connect, 5000);
      return;
    }
    ws.onopen = function () { live = true; $("live-note").textContent = "En vivo."; };
    ws.onmessage = function (msg) {
      let event = null;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      if (event && typeof event.type === "string" && event.type.indexOf("exam.") === 0 &&
          (event.session === boot.session || event.session === undefined)) refresh();
    };
    ws.onclose = function () {
      live = false;
      $("live-note").textContent = "Actualización automática cada pocos segundos.";
      setTimeout(connect, 3000);
    };
  }

  render();
  connect();
  setInterval(function () {
    const now = Date.now();
    if (now - lastPoll >= (live ? 15000 : 3000)) {
      lastPoll = now;
      refresh();
    }
  }, 1000);
})();
