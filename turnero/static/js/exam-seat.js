/* The exam on a seat's computer (kiosk mode): waits for an assignment, runs the exam
   one question at a time with a countdown, saves each answer as it is chosen, and
   shows the result. Everything lives on the server: a reload resumes where it was. */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("seat-data").textContent);
  const base = "/api/exam/seats/" + encodeURIComponent(boot.token);
  const $ = (id) => document.getElementById(id);
  const SCREENS = ["screen-idle", "screen-ready", "screen-question", "screen-result"];

  let state = boot.state;
  let attempt = null; // state.attempt
  let position = 0;
  let answers = {}; // question id -> choice index (what the candidate chose)
  let deadlineMs = null; // local clock time of the deadline
  let submitting = false;
  let pending = Promise.resolve(); // answers are saved one after another, in order

  function show(id) {
    SCREENS.forEach((s) => { $(s).hidden = s !== id; });
    $("timer").hidden = id !== "screen-question";
  }

  function error(text) {
    $("error").textContent = text || "";
    $("error").hidden = !text;
  }

  // A link shows one candidate's exam only: the proctor opens it on this computer after
  // the check-in; a swap, a release or the end of the session makes it invalid.
  let linkGone = false;

  function gone(e) {
    if (e.status !== 403 && e.status !== 404) return false;
    linkGone = true;
    attempt = null;
    show("screen-idle");
    $("idle-note").textContent = e.message;
    error("");
    return true;
  }

  function apply(newState) {
    state = newState;
    attempt = state.attempt;
    if (!attempt) {
      show("screen-idle");
      $("idle-note").textContent = state.in_service
        ? "El examinador abrirá aquí el enlace de su examen." : "Esta computadora está fuera de servicio.";
      return;
    }
    if (attempt.status === "assigned") {
      $("ready-name").textContent = attempt.name;
      $("ready-category").textContent = attempt.category_name;
      $("ready-total").textContent = attempt.total;
      const seconds = attempt.remaining_seconds !== null ? attempt.remaining_seconds : attempt.duration_seconds;
      $("ready-minutes").textContent = Math.ceil(seconds / 60);
      $("ready-pass").textContent = attempt.pass_percent;
      $("btn-start").textContent = attempt.resumed ? "Continuar el examen" : "Comenzar el examen";
      const when = String(attempt.session_starts_at || "").slice(11, 16); // office-local HH:MM
      $("ready-when").textContent = when && !attempt.resumed
        ? "La sesión comienza a las " + when + " o cuando el examinador lo indique." : "";
      show("screen-ready");
      return;
    }
    if (attempt.status === "in_progress") {
      answers = {};
      Object.keys(attempt.answers || {}).forEach((k) => { answers[Number(k)] = attempt.answers[k]; });
      position = Math.min(attempt.position || 0, attempt.questions.length - 1);
      deadlineMs = Date.now() + attempt.seconds_left * 1000;
      show("screen-question");
      renderQuestion();
      tick();
      return;
    }
    if (attempt.status === "finished") {
      const r = attempt.result;
      $("result-name").textContent = attempt.name;
      $("result-verdict").textContent = r.passed ? "APROBADO" : "REPROBADO";
      $("result-verdict").className = "exam-verdict " + (r.passed ? "passed" : "failed");
      $("result-score").textContent = r.correct + " de " + r.total + " respuestas correctas (" + r.percent + " %).";
      $("result-note").textContent = "Se necesitaban " + r.required + " correctas. " +
        "El resultado quedó registrado. Puede retirarse de la computadora.";
      show("screen-result");
    }
  }

  function renderQuestion() {
    const qs = attempt.questions;
    const q = qs[position];
    $("q-index").textContent = "Pregunta " + (position + 1) + " de " + qs.length;
    const answered = Object.keys(answers).length;
    $("q-answered").textContent = "· " + answered + " respondida" + (answered === 1 ? "" : "s");
    $("q-text").textContent = q.text;
    const box = $("q-choices");
    box.textContent = "";
    q.choices.forEach(function (text, i) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "choice" + (answers[q.id] === i ? " chosen" : "");
      b.setAttribute("role", "radio");
      b.setAttribute("aria-checked", answers[q.id] === i ? "true" : "false");
      b.dataset.choice = i;
      const letter = document.createElement("span");
      letter.className = "choice-letter";
      letter.textContent = "abcde"[i];
      const label = document.createElement("span");
      label.textContent = text;
      b.append(letter, label);
      b.addEventListener("click", () => choose(q.id, i));
      box.appendChild(b);
    });
    $("btn-prev").disabled = position === 0;
    $("btn-next").disabled = position === qs.length - 1;
    const dots = $("q-dots");
    dots.textContent = "";
    qs.forEach(function (item, i) {
      const d = document.createElement("button");
      d.type = "button";
      d.className = "qdot" + (answers[item.id] !== undefined ? " done" : "") + (i === position ? " here" : "");
      d.textContent = i + 1;
      d.setAttribute("aria-label", "Pregunta " + (i + 1) + (answers[item.id] !== undefined ? ", respondida" : ""));
      d.addEventListener("click", () => go(i));
      dots.appendChild(d);
    });
  }

  function go(i) {
    position = Math.max(0, Math.min(i, attempt.questions.length - 1));
    renderQuestion();
  }

  function choose(questionId, choice) {
    answers[questionId] = choice;
    renderQuestion();
    const body = { attempt: attempt.id, question: questionId, choice: choice, position: position };
    $("save-state").textContent = "Guardando…";
    $("save-state").className = "exam-save";
    pending = pending.then(() => save(body, 0));
  }

  async function save(body, tries) {
    try {
      await Turnero.api("POST", base + "/answers", body);
      $("save-state").textContent = "Respuesta guardada ✓";
      $("save-state").className = "exam-save saved";
    } catch (e) {
      if (e.status === 0 && tries < 20) { // no connection: keep trying, nothing is lost meanwhile
        $("save-state").textContent = "Sin conexión: reintentando guardar…";
        $("save-state").className = "exam-save failed";
        await new Promise((r) => setTimeout(r, 1500));
        return save(body, tries + 1);
      }
      $("save-state").textContent = "";
      if (e.status === 409) { await reload(); return; } // time over, moved, finished
      if (!gone(e)) error(e.message);
    }
  }

  function tick() {
    if (!attempt || attempt.status !== "in_progress") return;
    const left = Math.max(0, Math.round((deadlineMs - Date.now()) / 1000));
    const m = Math.floor(left / 60), s = left % 60;
    $("timer-value").textContent = String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    $("timer").classList.toggle("warn", left <= 60);
    if (left <= 0) submit(); // automatic hand-in at the deadline
  }

  async function submit() {
    if (submitting || !attempt) return;
    submitting = true;
    $("confirm").hidden = true;
    try {
      await pending; // the last answers first
      apply((await Turnero.api("POST", base + "/submit", { attempt: attempt.id })).data);
    } catch (e) {
      if (e.status === 409) await reload(); else if (!gone(e)) error(e.message);
    } finally {
      submitting = false;
    }
  }

  async function reload() {
    try {
      apply((await Turnero.api("GET", base)).data);
      error("");
    } catch (e) {
      if (!gone(e)) error(e.message);
    }
  }

  $("btn-start").addEventListener("click", async function () {
    try {
      apply((await Turnero.api("POST", base + "/start", { attempt: attempt.id })).data);
      $("ready-message").textContent = "";
    } catch (e) {
      $("ready-message").textContent = e.message;
      $("ready-message").className = "message error";
      if (e.status === 409 && e.code !== "session_not_started") await reload(); else gone(e);
    }
  });
  $("btn-prev").addEventListener("click", () => go(position - 1));
  $("btn-next").addEventListener("click", () => go(position + 1));
  $("btn-finish").addEventListener("click", function () {
    const missing = attempt.questions.length - Object.keys(answers).length;
    $("confirm-text").textContent = missing > 0
      ? "Le faltan " + missing + " preguntas por responder. ¿Entregar de todos modos?"
      : "¿Entregar el examen? Ya no podrá cambiar sus respuestas.";
    $("confirm").hidden = false;
  });
  $("btn-confirm-no").addEventListener("click", () => { $("confirm").hidden = true; });
  $("btn-confirm-yes").addEventListener("click", submit);

  apply(state);
  setInterval(tick, 250);
  // A candidate's waiting or result screen follows its exam; a running exam checks it still belongs here.
  setInterval(function () {
    if (linkGone) return;
    if (attempt && (attempt.status === "assigned" || attempt.status === "finished")) reload();
  }, 3000);
  setInterval(function () {
    if (attempt && attempt.status === "in_progress" && !submitting && !linkGone) {
      Turnero.api("GET", base).then(function (res) {
        const now = res.data.attempt;
        if (!now || now.id !== attempt.id || now.status !== "in_progress") apply(res.data);
      }).catch(gone);
    }
  }, 10000);
})();
