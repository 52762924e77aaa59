/* Size the printed page to the ticket so a roll printer feeds only the ticket.
   (`@page { size: 80mm auto }` is not valid CSS: Chromium would fall back to Letter.) */
(function () {
  "use strict";
  const PX_PER_MM = 96 / 25.4;

  function fitPage(slip) {
    if (!slip) return;
    const mm = Math.ceil(slip.getBoundingClientRect().height / PX_PER_MM) + 2;
    let style = document.getElementById("slip-page-size");
    if (!style) {
      style = document.createElement("style");
      style.id = "slip-page-size";
      document.head.append(style);
    }
    style.textContent = "@page { size: 80mm " + mm + "mm; margin: 0; }";
  }

  window.TurneroSlip = { fitPage };
})();
