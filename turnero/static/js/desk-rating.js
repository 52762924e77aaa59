/* The tablet facing the citizen at a desk (issue 20): when the desk finishes a ticket,
   its five buttons ask «¿Cómo le atendimos?» for a few minutes; a touch rates that
   ticket once (POST /api/offices/{office}/desks/{desk}/rating), then it thanks and waits
   for the next one. It asks the server every few seconds what to show. */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("desk-rating-data").textContent);
  const base = "/api/offices/" + encodeURIComponent(boot.office) + "/desks/" + encodeURIComponent(boot.desk) + "/rating";
  const POLL_MS = 3000;
  const THANKS_MS = 4000;
  const $ = (id) => document.getElementById(id);
  const buttons = Array.from(document.querySelectorAll("#dr-card [data-score]"));
  let current = null;      // the ticket shown
  let resting = false;     // showing the thanks

  function show(prompt) {
    if (resting) return;
    current = prompt ? prompt.ticket : null;
    $("dr-card").hidden = !prompt;
    $("dr-wait").hidden = !!prompt;
    if (prompt) {
      $("dr-number").textContent = prompt.number;
      $("dr-service").textContent = prompt.service_name;
      $("dr-error").hidden = true;
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  async function poll() {
    try {
      const { data } = await Turnero.api("GET", base);
      if (!data.prompt || data.prompt.ticket !== current) show(data.prompt);
    } catch (e) {
      if (e.status === 401) { window.location.reload(); return; }
    }
    setTimeout(poll, POLL_MS);
  }

  buttons.forEach((button) => button.addEventListener("click", async () => {
    if (!current) return;
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await Turnero.api("POST", base, { ticket: current, score: Number(button.dataset.score) });
      thank("¡Gracias por su valoración!");
    } catch (e) {
      if (e.status === 409 || e.status === 404) { thank("Gracias por su visita."); return; }
      $("dr-error").textContent = e.message;
      $("dr-error").hidden = false;
      buttons.forEach((b) => { b.disabled = false; });
    }
  }));

  function thank(text) {
    $("dr-card").hidden = true;
    $("dr-wait").textContent = text;
    $("dr-wait").hidden = false;
    resting = true;
    setTimeout(() => { resting = false; $("dr-wait").textContent = "Gracias por su visita."; current = null; }, THANKS_MS);
  }

  poll();
})();
