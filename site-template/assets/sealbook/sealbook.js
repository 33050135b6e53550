/* sealbook: copy buttons, version switcher, catalog filters. No inline scripts anywhere:
   pages load this file and assets/versions.js by <script src> (works from file://). */
(function () {
  "use strict";

  /* Copy `text` exactly. The page's own `copy` event carries the text (works on file://,
     where the async clipboard API is unavailable); then "sb-copied" is dispatched on the
     button with {detail: {text}} so tests and assistive code can observe what was copied. */
  function copyExactly(text, button) {
    var handler = function (event) {
      event.clipboardData.setData("text/plain", text);
      event.preventDefault();
    };
    document.addEventListener("copy", handler, true);
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.removeEventListener("copy", handler, true);
    if (!ok && navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text);
    }
    button.classList.add("sb-copied");
    button.setAttribute("aria-label", "Copied");
    window.setTimeout(function () {
      button.classList.remove("sb-copied");
      button.setAttribute("aria-label", button.getAttribute("data-label") || "Copy");
    }, 1500);
    button.dispatchEvent(new CustomEvent("sb-copied", { bubbles: true, detail: { text: text } }));
  }

  /* The exact text a button copies, taken from the button's own snippet figure only: the
     figure's <template class="sb-copy-text"> (the signed text minus its final LF) for "Copy",
     its <code class="sb-run"> for "Copy command". Never a page-wide lookup by id, which an
     element elsewhere on the page could answer. */
  function figureText(button) {
    var figure = button.closest("figure.sb-snippet");
    if (!figure) return null;
    var run = button.classList.contains("sb-copy-run");
    var el = figure.querySelector(run ? ":scope > .sb-run-line > code.sb-run" : ":scope > template.sb-copy-text");
    if (!el) return null;
    return run ? el.textContent : el.content.textContent;
  }

  function setupCopy() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest("button.sb-copy, button.sb-copy-run");
      if (!button) return;
      var text = figureText(button);
      if (text !== null) copyExactly(text, button);
    });
  }

  function param(name) {
    var match = new RegExp("[?&]" + name + "=([^&#]*)").exec(location.search);
    return match ? decodeURIComponent(match[1]) : null;
  }

  /* Version switcher: one <select> per runbook page, built from window.SEALBOOK_VERSIONS. */
  function setupVersions() {
    var data = window.SEALBOOK_VERSIONS;
    var box = document.querySelector(".sb-versions[data-slug]");
    if (!box || !data || !data.runbooks) return;
    var slug = box.getAttribute("data-slug");
    var root = box.getAttribute("data-root") || "";
    var revision = Number(box.getAttribute("data-revision"));
    var entry = data.runbooks[slug];
    if (!entry) return;
    var wanted = param("release");
    var current = entry.revisions[wanted] === revision ? wanted : box.getAttribute("data-release");
    var select = document.createElement("select");
    select.className = "sb-version-select";
    select.setAttribute("aria-label", "Release");
    data.releases.slice().reverse().forEach(function (version) {
      var rev = entry.revisions[version];
      if (rev === undefined) return;
      var option = document.createElement("option");
      option.value = root + "runbooks/" + slug + "/r" + rev + ".html?release=" + encodeURIComponent(version);
      option.textContent = version + " \u00b7 r" + rev + (version === data.head ? " \u00b7 latest" : "");
      option.selected = version === current;
      select.appendChild(option);
    });
    select.addEventListener("change", function () {
      location.href = select.value;
    });
    box.appendChild(select);
    var note = document.createElement("p");
    note.className = "sb-version-note";
    var headRev = entry.revisions[data.head];
    if (entry.retired) {
      note.textContent = "This runbook was retired in release " + entry.retired + ".";
      note.classList.add("sb-warn");
    } else if (headRev !== undefined && headRev !== revision) {
      var link = document.createElement("a");
      link.href = root + "runbooks/" + slug + "/r" + headRev + ".html";
      link.textContent = "revision " + headRev;
      note.appendChild(document.createTextNode("A newer text is in the latest release " + data.head + ": "));
      note.appendChild(link);
      note.classList.add("sb-warn");
    } else if (current) {
      note.textContent = "Viewing release " + current + " (latest: " + data.head + ").";
    }
    box.appendChild(note);
  }

  /* Catalog filters over the static table (no form: inputs filter rows in place). */
  function setupFilters() {
    var table = document.querySelector("table.sb-catalog");
    if (!table) return;
    var controls = document.querySelectorAll("[data-sb-filter]");
    var apply = function () {
      var wanted = {};
      controls.forEach(function (c) {
        wanted[c.getAttribute("data-sb-filter")] = c.value.trim().toLowerCase();
      });
      table.querySelectorAll("tr.sb-catalog-row").forEach(function (row) {
        var show = true;
        Object.keys(wanted).forEach(function (key) {
          var value = wanted[key];
          if (!value) return;
          if (key === "text") {
            if (row.textContent.toLowerCase().indexOf(value) < 0) show = false;
          } else if ((row.getAttribute("data-" + key) || "").toLowerCase() !== value) {
            show = false;
          }
        });
        row.hidden = !show;
      });
    };
    controls.forEach(function (c) {
      c.addEventListener("input", apply);
      c.addEventListener("change", apply);
    });
  }

  /* A latest page forwards by meta refresh, which drops the fragment of a link such as
     other.md#section: carry it to the revision page (same target as the refresh). */
  function forwardFragment() {
    var link = document.querySelector("main.sb-page--latest a.sb-latest-link");
    if (link && location.hash.length > 1) location.replace(link.href + location.hash);
  }

  function start() {
    forwardFragment();
    setupCopy();
    setupVersions();
    setupFilters();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
