/* sealbook: copy buttons, version switcher, catalog filters. No inline scripts anywhere:
   pages load this file and assets/versions.js by <script src> (works from file://). */
(function () {
  "use strict";

  /* Copy `text` exactly. The page's own `copy` event carries the text (works on file://,
     where the async clipboard API is unavailable); then "sb-copied" is dispatched on the
     button with {detail: {text}} so tests and assistive code can observe what was copied. */
  function copyExactly(text, button, what) {
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
    showCopied(button, what);
    button.dispatchEvent(new CustomEvent("sb-copied", { bubbles: true, detail: { text: text } }));
  }

  /* One polite live region per page: screen readers hear "Copied ..." after a copy. */
  var announcer = null;
  function setupAnnouncer() {
    announcer = document.createElement("div");
    announcer.className = "sb-announce";
    announcer.setAttribute("role", "status");
    announcer.setAttribute("aria-live", "polite");
    document.body.appendChild(announcer);
  }

  /* A visible "Copied" state on the button for 2 s, and the same words announced. */
  function showCopied(button, what) {
    var label = button.getAttribute("data-label") || "Copy";
    button.classList.add("sb-copied");
    button.textContent = "Copied";
    button.setAttribute("aria-label", "Copied");
    if (announcer) announcer.textContent = "Copied " + what + ".";
    window.clearTimeout(button.sbCopiedTimer);
    button.sbCopiedTimer = window.setTimeout(function () {
      button.classList.remove("sb-copied");
      button.textContent = label;
      button.setAttribute("aria-label", label);
    }, 2000);
  }

  /* The exact text a button copies, taken from the button's own figure only (a snippet's
     figure, or its small figure among the commands at the top of the page): the figure's
     <template class="sb-copy-text"> (the signed text minus its final LF) for "Copy", its
     <code class="sb-run"> for "Copy command". Never a page-wide lookup by id, which an
     element elsewhere on the page could answer. */
  function figureText(button) {
    var figure = button.closest("figure.sb-snippet, figure.sb-quick");
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
      if (text === null) return;
      var id = button.closest("figure.sb-snippet, figure.sb-quick").getAttribute("data-snippet-id") || "";
      copyExactly(text, button, (button.classList.contains("sb-copy-run") ? "the command of " : "") + id);
    });
  }

  function param(name) {
    var match = new RegExp("[?&]" + name + "=([^&#]*)").exec(location.search);
    return match ? decodeURIComponent(match[1]) : null;
  }

  function revisionPage(root, slug, revision, version) {
    var page = root + "runbooks/" + slug + "/r" + revision + ".html";
    return version ? page + "?release=" + encodeURIComponent(version) : page;
  }

  /* The release a runbook page is viewed as. An alias page is its own release. A revision
     page is the view of `?release=` when that release holds this very revision; else the
     head's view when the head holds it (every way to "the runbook now" lands here); else
     the release that first signed it (a newer text exists, or the runbook was retired). */
  function viewedRelease(box, entry, data) {
    var own = box.getAttribute("data-release");
    if (box.hasAttribute("data-fixed")) return own;
    var revision = Number(box.getAttribute("data-revision"));
    var wanted = param("release");
    if (wanted && entry.revisions[wanted] === revision) return wanted;
    if (!entry.retired && entry.revisions[data.head] === revision) return data.head;
    return own;
  }

  /* Pin the page's run commands to `version`, which signed the same runbook text (the
     digests are the signed ones; only the release changes). The command's first part is
     "sealbook run <slug>@<release> <id>"; a command not shaped so is left alone. */
  function pinCommands(page, slug, from, to) {
    if (from === to) return;
    page.querySelectorAll("figure.sb-snippet[data-snippet-id], figure.sb-quick[data-snippet-id]").forEach(function (figure) {
      var code = figure.querySelector(":scope > .sb-run-line > code.sb-run");
      var part = code && code.querySelector(":scope > .sb-run-part");
      if (!part) return;
      var id = figure.getAttribute("data-snippet-id");
      if (part.textContent !== "sealbook run " + slug + "@" + from + " " + id) return;
      part.textContent = "sealbook run " + slug + "@" + to + " " + id;
    });
  }

  /* What the viewed release is, said plainly: the latest text, or that a newer text exists,
     or that the runbook was retired. */
  function versionNote(entry, data, slug, root, revision, viewed, since) {
    var note = document.createElement("p");
    note.className = "sb-version-note";
    var headRev = entry.revisions[data.head];
    var link = function (text, href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      return a;
    };
    var say = function (text) {
      note.appendChild(document.createTextNode(text));
    };
    if (viewed === data.head) {
      note.classList.add("sb-version-note--head");
      say("Latest release " + data.head + (since && since !== data.head ? ": unchanged since " + since + "." : "."));
    } else if (entry.retired) {
      note.classList.add("sb-warn");
      say("Release " + viewed + ". This runbook was retired in release " + entry.retired + ": it is not in the latest release " + data.head + ".");
    } else if (headRev !== undefined && headRev !== revision) {
      note.classList.add("sb-warn");
      say("Release " + viewed + ". A newer text is in the latest release " + data.head + ": ");
      note.appendChild(link("revision " + headRev, revisionPage(root, slug, headRev, data.head)));
      say(".");
    } else {
      note.classList.add("sb-warn");
      say("Release " + viewed + " is not the latest. The latest release " + data.head + " holds the same text: ");
      note.appendChild(link("commands pinned to " + data.head, revisionPage(root, slug, revision, data.head)));
      say(".");
    }
    return note;
  }

  /* Version switcher and note on runbook pages (revision and alias), from SEALBOOK_VERSIONS. */
  function setupVersions() {
    var data = window.SEALBOOK_VERSIONS;
    var box = document.querySelector(".sb-versions[data-slug]");
    if (!box || !data || !data.runbooks) return;
    var slug = box.getAttribute("data-slug");
    var root = box.getAttribute("data-root") || "";
    var revision = Number(box.getAttribute("data-revision"));
    var entry = data.runbooks[slug];
    if (!entry) return;
    var own = box.getAttribute("data-release");
    var viewed = viewedRelease(box, entry, data);
    var page = box.closest(".sb-page");
    if (page) {
      pinCommands(page, slug, own, viewed);
      page.setAttribute("data-viewed-release", viewed);
    }
    var select = document.createElement("select");
    select.className = "sb-version-select";
    select.setAttribute("aria-label", "Release");
    data.releases.slice().reverse().forEach(function (version) {
      var rev = entry.revisions[version];
      if (rev === undefined) return;
      var option = document.createElement("option");
      option.value = revisionPage(root, slug, rev, version);
      option.textContent = version + " \u00b7 r" + rev + (version === data.head ? " \u00b7 latest" : "");
      option.selected = version === viewed;
      select.appendChild(option);
    });
    select.addEventListener("change", function () {
      location.href = select.value;
    });
    box.appendChild(select);
    box.appendChild(versionNote(entry, data, slug, root, revision, viewed, box.getAttribute("data-since")));
  }

  /* Release and diff pages of an older release say that a newer one exists. */
  function setupOlderNotes() {
    var data = window.SEALBOOK_VERSIONS;
    var box = document.querySelector("[data-sb-newer]");
    if (!box || !data || !data.head) return;
    var note = document.createElement("p");
    note.className = "sb-version-note";
    var root = box.getAttribute("data-root") || "";
    var slug = box.getAttribute("data-slug");
    var release = box.getAttribute("data-release");
    var text = null;
    if (slug) {
      var entry = data.runbooks[slug];
      var revision = Number(box.getAttribute("data-revision"));
      if (entry && entry.retired) {
        text = "This runbook was retired in release " + entry.retired + ".";
      } else if (entry && entry.revisions[data.head] !== revision) {
        text = "A newer text is in the latest release " + data.head + ": ";
        var a = document.createElement("a");
        a.href = revisionPage(root, slug, entry.revisions[data.head], data.head);
        a.textContent = "revision " + entry.revisions[data.head];
        note.appendChild(document.createTextNode(text));
        note.appendChild(a);
        text = ".";
      }
    } else if (release && release !== data.head) {
      text = "A newer release exists: ";
      var b = document.createElement("a");
      b.href = root + "versions/" + data.head + "/index.html";
      b.textContent = data.head;
      note.appendChild(document.createTextNode(text));
      note.appendChild(b);
      text = ".";
    }
    if (text === null) return;
    note.appendChild(document.createTextNode(text));
    note.classList.add("sb-warn");
    box.appendChild(note);
  }

  /* Catalog filters over the static table (no form: inputs filter rows in place). The count
     ("7 of 15") and "nothing matches" are live; the state is kept in the page's URL
     (?filter=&service=&severity=, by replaceState; not ?q=, which opens material's search),
     so Back to the catalog restores it. */
  var FILTER_PARAMS = { text: "filter", service: "service", severity: "severity" };
  function setupFilters() {
    var table = document.querySelector("table.sb-catalog");
    if (!table) return;
    var controls = document.querySelectorAll("[data-sb-filter]");
    var count = document.querySelector("[data-sb-count]");
    var nothing = document.querySelector(".sb-nothing");
    var rows = table.querySelectorAll("tr.sb-catalog-row");
    var apply = function () {
      var wanted = {};
      controls.forEach(function (c) {
        wanted[c.getAttribute("data-sb-filter")] = c.value.trim().toLowerCase();
      });
      var shown = 0;
      rows.forEach(function (row) {
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
        if (show) shown += 1;
      });
      if (count) count.textContent = shown + " of " + rows.length + " runbooks";
      if (nothing) nothing.hidden = shown !== 0;
      return wanted;
    };
    var remember = function () {
      var query = [];
      controls.forEach(function (c) {
        var name = FILTER_PARAMS[c.getAttribute("data-sb-filter")];
        if (name && c.value.trim()) query.push(name + "=" + encodeURIComponent(c.value.trim()));
      });
      var url = location.pathname + (query.length ? "?" + query.join("&") : "") + location.hash;
      try {
        history.replaceState(null, "", url);
      } catch (e) {
        /* some file:// setups refuse: the filter still works, Back just forgets it */
      }
    };
    var restore = function () {
      controls.forEach(function (c) {
        var name = FILTER_PARAMS[c.getAttribute("data-sb-filter")];
        var value = (name && param(name)) || "";
        if (c.tagName === "SELECT" && value && !c.querySelector('option[value="' + CSS.escape(value) + '"]')) value = "";
        c.value = value;
      });
      apply();
    };
    controls.forEach(function (c) {
      var changed = function () {
        apply();
        remember();
      };
      c.addEventListener("input", changed);
      c.addEventListener("change", changed);
    });
    window.addEventListener("pageshow", restore);
    restore();
  }

  /* Dark mode: a toggle in the header (the small pages: at the top), remembered in
     localStorage; without a choice, the page follows the system (assets/sealbook/scheme.js
     applies it before the page paints). */
  var SCHEME_KEY = "sealbook.scheme";
  function isDark() {
    return document.body.getAttribute("data-md-color-scheme") === "slate";
  }
  function applyScheme(dark) {
    document.body.setAttribute("data-md-color-scheme", dark ? "slate" : "default");
    var toggle = document.querySelector("button.sb-scheme-toggle");
    if (toggle) {
      toggle.setAttribute("aria-pressed", dark ? "true" : "false");
      toggle.textContent = dark ? "Light" : "Dark";
    }
  }
  function setupScheme() {
    var toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "sb-scheme-toggle";
    toggle.setAttribute("aria-label", "Dark mode");
    var header = document.querySelector(".md-header__inner");
    if (header) {
      header.insertBefore(toggle, header.querySelector(".md-search") || null);
    } else {
      document.body.insertBefore(toggle, document.body.firstChild);
    }
    toggle.addEventListener("click", function () {
      var dark = !isDark();
      try {
        window.localStorage.setItem(SCHEME_KEY, dark ? "dark" : "light");
      } catch (e) {
        /* not remembered: still toggled for this page */
      }
      applyScheme(dark);
    });
    var media = window.matchMedia("(prefers-color-scheme: dark)");
    var follow = function () {
      var stored = null;
      try {
        stored = window.localStorage.getItem(SCHEME_KEY);
      } catch (e) {
        stored = null;
      }
      if (stored !== "dark" && stored !== "light") applyScheme(media.matches);
    };
    if (media.addEventListener) media.addEventListener("change", follow);
    applyScheme(isDark());
  }

  /* A printed runbook carries its provenance: open the panels before printing. */
  function setupPrint() {
    window.addEventListener("beforeprint", function () {
      document.querySelectorAll("details.sb-provenance-box").forEach(function (d) {
        d.open = true;
      });
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
    setupPrint();
    setupScheme();
    setupAnnouncer();
    setupCopy();
    setupVersions();
    setupOlderNotes();
    setupFilters();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
