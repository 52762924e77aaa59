/* Small page behaviours that used to be inline handlers (the CSP allows no inline script):
   - <button data-print>: print the page;
   - <form data-no-submit>: never submitted (its inputs drive a script);
   - <div class="slip" data-fit-page> on the print page: fit the slip to the paper. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-print]");
    if (button) {
      event.preventDefault();
      window.print();
    }
  });
  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches("form[data-no-submit]")) event.preventDefault();
  });
  function fitSlips() {
    if (!window.TurneroSlip) return;
    document.querySelectorAll("[data-fit-page] .slip, .slip[data-fit-page]").forEach(function (slip) {
      window.TurneroSlip.fitPage(slip);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fitSlips);
  else fitSlips();
})();
