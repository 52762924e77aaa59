/* The ticket page's «¿Cómo le atendimos?» (issue 20): the five buttons are a plain form
   that works without JavaScript; here they post to the JSON API instead and the page
   stays where it is, saying thanks. A visit is rated once. */
(function () {
  "use strict";
  const form = document.getElementById("rating-form");
  if (!form) return;
  const thanks = document.getElementById("rating-thanks");
  const error = document.getElementById("rating-error");
  const LABELS = { 1: "Muy mal", 2: "Mal", 3: "Regular", 4: "Bien", 5: "Muy bien" };

  function done(message) {
    thanks.textContent = message;
    thanks.hidden = false;
    form.remove();
  }

  form.addEventListener("submit", async (event) => {
    const button = event.submitter;
    if (!button || !window.Turnero || !Turnero.api) return;  // the plain form then posts
    event.preventDefault();
    const score = Number(button.value);
    form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    error.hidden = true;
    try {
      await Turnero.api("POST", "/api/tickets/" + encodeURIComponent(form.dataset.ticket) + "/rating", { score });
      done("¡Gracias! Usted valoró su atención: " + score + " — " + LABELS[score] + ".");
    } catch (e) {
      if (e.code === "already_rated") {
        done("Esta atención ya fue valorada. ¡Gracias!");
        return;
      }
      error.textContent = e.message;
      error.hidden = false;
      form.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  });
})();
