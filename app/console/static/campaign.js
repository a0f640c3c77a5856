// The campaign page's delivery funnel, refreshed every 5 seconds from funnel.json.
// Without JavaScript the page shows the numbers as of page load.
(function () {
  "use strict";
  var box = document.querySelector("[data-funnel-url]");
  if (!box || box.getAttribute("data-final") === "yes") {
    return;
  }
  var url = box.getAttribute("data-funnel-url");
  var note = box.querySelector("[data-funnel-note]");
  var status = document.querySelector("[data-testid=status]");
  var timer = null;

  function show(data) {
    Object.keys(data.funnel).forEach(function (stage) {
      var cell = box.querySelector('[data-stage="' + stage + '"]');
      var bar = box.querySelector('[data-bar="' + stage + '"]');
      if (cell) {
        cell.textContent = String(data.funnel[stage]);
      }
      if (bar) {
        bar.max = Math.max(data.total, 1);
        bar.value = data.funnel[stage];
        bar.textContent = String(data.funnel[stage]);
      }
    });
    var planned = box.querySelector('[data-funnel="planned"]');
    if (planned) {
      planned.textContent = String(data.planned);
    }
    var list = box.querySelector("[data-failures]");
    if (list) {
      list.textContent = "";
      var reasons = Object.keys(data.failures);
      reasons.forEach(function (reason) {
        var item = document.createElement("li");
        item.textContent = reason + ": " + data.failures[reason];
        list.appendChild(item);
      });
      if (!reasons.length) {
        var none = document.createElement("li");
        none.className = "muted";
        none.textContent = "none";
        list.appendChild(none);
      }
    }
    if (status) {
      status.textContent = data.status;
      status.className = "status status-" + data.status;
    }
    if (note) {
      note.textContent = "Messages by where they are now, updated " +
        new Date().toLocaleTimeString() + (data.final ? " (final)." : "; every 5 seconds.");
    }
  }

  function stop(message) {
    window.clearInterval(timer);
    if (note && message) {
      note.textContent = message;
    }
  }

  function poll() {
    // X-Ngazi-Poll: a background refresh does not keep an idle session alive.
    fetch(url, {
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-Ngazi-Poll": "1" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("application/json") !== 0) {
        stop("Updates stopped (signed out or the server is away): reload the page.");
        return null;
      }
      return response.json();
    }).then(function (data) {
      if (!data) {
        return;
      }
      show(data);
      if (data.final) {
        stop(null);
      }
    }).catch(function () {
      stop("Updates stopped (the server did not answer): reload the page.");
    });
  }

  timer = window.setInterval(poll, 5000);
}());
