/* sealbook: the colour scheme, set before the page paints (loaded by <script src> at the
   start of <body>; no inline script under the Content-Security-Policy). The reader's choice
   (the toggle in sealbook.js, kept in localStorage) wins; else the system's preference. */
(function () {
  "use strict";
  var stored = null;
  try {
    stored = window.localStorage.getItem("sealbook.scheme");
  } catch (e) {
    stored = null;
  }
  var dark = stored === "dark" || (stored !== "light" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.body.setAttribute("data-md-color-scheme", dark ? "slate" : "default");
})();
