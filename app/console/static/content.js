// The article editor's live counts: as the editor types, ask the server how
// many USSD screens and SMS parts each language takes (the same figures the
// page shows after "Count"). Without this script the page still works.
"use strict";

(function () {
  const form = document.querySelector("form.article-form[data-counts]");
  if (!form || form.querySelector("fieldset[disabled]")) {
    return;
  }
  const url = form.dataset.counts;
  const token = form.querySelector('input[name="csrf_token"]');
  let timer = null;
  let asked = 0;

  function show(fit, counts) {
    fit.textContent = "";
    if (!counts) {
      fit.textContent = "Counts appear once there is an English text.";
      return;
    }
    const lang = fit.closest("fieldset").querySelector("legend").textContent;
    if (counts.fallback) {
      const note = document.createElement("span");
      note.className = "fallback";
      note.textContent = "No " + lang + " text: callers read English.";
      fit.append(note, document.createElement("br"));
    }
    const screens = document.createElement("strong");
    screens.dataset.count = "screens";
    screens.textContent = String(counts.screens);
    const parts = document.createElement("strong");
    parts.dataset.count = "parts";
    parts.textContent = String(counts.parts);
    const unit = counts.encoding === "GSM-7" ? "septets" : "UCS-2 units";
    fit.append(
      "USSD: ", screens, counts.screens === 1 ? " screen" : " screens",
      " · SMS: ", parts, counts.parts === 1 ? " part" : " parts",
      " (" + counts.encoding + ", " + counts.units + " " + unit + ")"
    );
    if (counts.warning) {
      const warning = document.createElement("span");
      warning.className = "warning";
      warning.dataset.count = "warning";
      warning.textContent = counts.warning;
      fit.append(document.createElement("br"), warning);
    }
  }

  async function refresh() {
    const mine = ++asked;
    try {
      const response = await fetch(url, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-CSRFToken": token ? token.value : "" },
        credentials: "same-origin",
      });
      if (!response.ok || mine !== asked) {
        return;
      }
      const counts = await response.json();
      for (const fieldset of form.querySelectorAll("fieldset.lang")) {
        const fit = fieldset.querySelector(".fit");
        if (fit) {
          show(fit, counts[fieldset.dataset.language]);
        }
      }
    } catch (_err) {
      // Offline or signed out: the counts stay as they were; "Count" still works.
    }
  }

  form.addEventListener("input", function (event) {
    if (!event.target.closest("fieldset.lang")) {
      return;
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  });
})();
