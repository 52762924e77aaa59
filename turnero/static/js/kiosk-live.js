/* Kiosk: "N personas en espera" on each trámite, live from the office's board channel.
   (A count, not a wait: an empty line is "Nadie en espera" — "Sin espera" is the wait
   estimate's word, for a line with a desk open: eta-format.js.) */
(function () {
  "use strict";
  const root = document.getElementById("kiosk");
  if (!root || !window.Turnero || !Turnero.liveBoard) return;
  function show(waiting) {
    document.querySelectorAll("[data-waiting-for]").forEach((el) => {
      const n = waiting[el.dataset.waitingFor];
      el.hidden = typeof n !== "number";
      el.textContent = n === 0 ? "Nadie en espera" : n === 1 ? "1 persona en espera" : n + " personas en espera";
    });
  }
  Turnero.liveBoard(root.dataset.office, {
    pollWhileDown: true,
    onSnapshot: (board) => show(board.waiting),
    onEvent: (ev) => { if (ev.type === "queue.changed" && ev.waiting) show(ev.waiting); },
  });
})();
