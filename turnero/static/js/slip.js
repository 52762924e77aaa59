/* Size the printed page to the ticket so a roll printer feeds only the ticket.
   (`@page { size: 80mm auto }` is not valid CSS: Chromium would fall back to Letter.) */
(function () {
  "use strict";
  const PX_PER_MM = 96 / 25.4;
  let sheet = null;

  function fitPage(slip) {
    if (!slip) return;
    const mm = Math.ceil(slip.getBoundingClientRect().height / PX_PER_MM) + 2;
    // A constructed style sheet: the CSP refuses <style> elements and style attributes.
    if (!sheet) {
      sheet = new CSSStyleSheet();
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    }
    sheet.replaceSync("@page { size: 80mm " + mm + "mm; margin: 0; }");
  }

  window.TurneroSlip = { fitPage };
})();
