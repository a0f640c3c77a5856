/* Ngazi phone simulator: a basic phone that speaks to POST /ussd as the
 * Africa's Talking gateway does. Plain JS, no build step, no network beyond
 * this server.
 *
 * Protocol: every hop POSTs sessionId, serviceCode, phoneNumber, networkCode
 * and text (all inputs of the session so far joined by "*", "" on the first
 * hop). The answer is text/plain "CON ..." (the session goes on) or "END ..."
 * (the session is over).
 */
(function () {
  "use strict";

  var phone = document.getElementById("phone");
  var SERVICE_CODE = phone.dataset.serviceCode;
  var USSD_URL = phone.dataset.ussdUrl;
  var INBOX_URL = phone.dataset.inboxUrl;
  var NETWORK_CODE = phone.dataset.networkCode || "63902";
  var MAX_ENTRY = 160; // a USSD string is at most 182 characters on the air
  var TIMEOUT_MS = 15000; // the CLI phone's timeout too
  var LONG_PRESS_MS = 600;

  var el = {
    screen: document.getElementById("screen"),
    entry: document.getElementById("entry"),
    entryLine: document.getElementById("entry-line"),
    softLeft: document.getElementById("softkey-left"),
    softRight: document.getElementById("softkey-right"),
    msisdn: document.getElementById("msisdn"),
    info: document.getElementById("session-info"),
    call: document.getElementById("call"),
    clear: document.getElementById("clear"),
    hangup: document.getElementById("hangup"),
    clock: document.getElementById("clock"),
    inboxFor: document.getElementById("inbox-for"),
    inboxList: document.getElementById("inbox-list"),
    inboxRefresh: document.getElementById("inbox-refresh"),
  };

  var state = {
    mode: "idle", // idle | busy | open
    outcome: "", // while idle: "" or how the last session ended ("ended", "error")
    entry: "", // the keypad's text: a dial string when idle, a reply in a session
    session: null, // {id, msisdn, code, inputs: [...], hops}
    hops: 0, // answers handled since the page loaded (tests wait on it)
    lastText: "",
  };

  // -- screen ------------------------------------------------------------------

  function showScreen(text) {
    el.screen.textContent = text;
    el.screen.scrollTop = 0;
  }

  function idleScreen() {
    showScreen("Ngazi\n\nDial " + SERVICE_CODE + "\nand press Call.");
  }

  function render() {
    var mode = state.mode;
    phone.dataset.state = mode === "idle" && state.outcome ? state.outcome : mode;
    phone.dataset.hop = String(state.hops);
    phone.dataset.text = state.lastText;
    el.screen.setAttribute("aria-busy", mode === "busy" ? "true" : "false");
    el.entry.textContent = state.entry;
    el.entryLine.classList.toggle("dialling", mode === "idle");
    el.entryLine.hidden = mode === "busy" || (mode === "idle" && !state.entry);

    var left = "Call";
    var right = state.entry ? "Clear" : "";
    if (mode === "open") {
      left = "Send";
    } else if (mode === "busy") {
      left = "";
      right = "";
    } else if (state.outcome && !state.entry) {
      right = "OK";
    }
    el.softLeft.textContent = left;
    el.softRight.textContent = right;
    el.call.setAttribute("aria-label", mode === "open" ? "Send" : "Call");

    if (state.session) {
      var n = state.session.hops;
      el.info.textContent =
        "Session " + state.session.id + " · text \u201c" + state.lastText + "\u201d · " +
        n + (n === 1 ? " hop" : " hops");
    } else {
      el.info.textContent = state.hops
        ? "No session · last text \u201c" + state.lastText + "\u201d"
        : "No session";
    }
  }

  function flashKey(button) {
    if (!button) return;
    button.classList.add("pressed");
    window.setTimeout(function () {
      button.classList.remove("pressed");
    }, 120);
  }

  function nudgeEntry() {
    el.entryLine.hidden = false;
    el.entryLine.classList.remove("nudge");
    void el.entryLine.offsetWidth; // restart the animation
    el.entryLine.classList.add("nudge");
  }

  // -- keys ----------------------------------------------------------------------

  function press(key) {
    if (state.mode === "busy") return;
    if (state.mode === "idle" && state.outcome) {
      // A new number over the last session's message: the message goes.
      state.outcome = "";
      idleScreen();
    }
    if (state.entry.length >= MAX_ENTRY) return;
    state.entry += key;
    render();
  }

  function backspace() {
    if (state.mode === "busy") return;
    if (state.entry) {
      state.entry = state.entry.slice(0, -1);
    } else if (state.mode === "idle" && state.outcome) {
      state.outcome = "";
      idleScreen();
    }
    render();
  }

  function clearEntry() {
    if (state.mode === "busy") return;
    state.entry = "";
    render();
  }

  function call() {
    if (state.mode === "busy") return;
    if (state.mode === "open") {
      sendReply();
    } else {
      dial();
    }
  }

  function hangUp() {
    // The gateway would end the session; a late answer to it is ignored.
    state.session = null;
    state.mode = "idle";
    state.outcome = "";
    state.entry = "";
    idleScreen();
    render();
  }

  // -- sessions ------------------------------------------------------------------

  function newSessionId() {
    var bytes = new Uint8Array(8);
    window.crypto.getRandomValues(bytes);
    var hex = Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
    return "ATUid_sim_" + hex;
  }

  function fail(message) {
    state.session = null;
    state.mode = "idle";
    state.outcome = "error";
    showScreen(message);
    render();
  }

  function dial() {
    var typed = state.entry.trim();
    var code = SERVICE_CODE;
    var text = "";
    if (typed && typed !== SERVICE_CODE) {
      if (!/^\*[0-9*#]*#$/.test(typed)) {
        state.entry = "";
        fail("Only USSD codes can be dialled here: start with * and end with #, e.g. " +
             SERVICE_CODE);
        return;
      }
      // A shortcut dial, *384*1234*1*2#, reaches the gateway as the service
      // code plus text "1*2"; any other code is sent as dialled.
      var base = SERVICE_CODE.replace(/#$/, "");
      if (typed.indexOf(base + "*") === 0) {
        text = typed.slice(base.length + 1, -1);
      } else {
        code = typed;
      }
    }
    state.entry = "";
    state.outcome = "";
    state.session = {
      id: newSessionId(),
      msisdn: el.msisdn.value.trim(),
      code: code,
      inputs: text ? text.split("*") : [],
      hops: 0,
    };
    hop();
  }

  function sendReply() {
    var reply = state.entry.trim();
    if (!reply) {
      nudgeEntry();
      return;
    }
    state.session.inputs.push(reply);
    state.entry = "";
    hop();
  }

  function hop() {
    var session = state.session;
    var text = session.inputs.join("*");
    var form = new URLSearchParams();
    form.set("sessionId", session.id);
    form.set("serviceCode", session.code);
    form.set("phoneNumber", session.msisdn);
    form.set("networkCode", NETWORK_CODE);
    form.set("text", text);

    state.mode = "busy";
    state.lastText = text;
    showScreen("USSD code running\u2026");
    render();

    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = window.setTimeout(function () {
      if (controller) controller.abort();
    }, TIMEOUT_MS);

    fetch(USSD_URL, {
      method: "POST",
      body: form,
      headers: { Accept: "text/plain" },
      signal: controller ? controller.signal : undefined,
    })
      .then(function (resp) {
        return resp.text().then(function (body) {
          return { status: resp.status, ok: resp.ok, body: body };
        });
      })
      .then(
        function (answer) {
          if (state.session !== session) return false; // hung up meanwhile
          answered(answer);
          return true;
        },
        function (err) {
          if (state.session !== session) return false;
          var why = err && err.name === "AbortError" ? "no answer in time" : String(err);
          fail("Connection problem or invalid MMI code.\n\n(" + why + ")");
          return true;
        }
      )
      .then(function (handled) {
        window.clearTimeout(timer);
        if (handled) {
          session.hops += 1;
          state.hops += 1;
          render();
        }
        refreshInbox();
      });
  }

  function answered(answer) {
    if (!answer.ok) {
      fail("Error " + answer.status + "\n" + (answer.body.trim() || "(empty answer)"));
      return;
    }
    var m = /^(CON|END)(?:[ \n]|$)/.exec(answer.body);
    if (!m) {
      fail("Unexpected answer (not CON or END):\n" + answer.body);
      return;
    }
    showScreen(answer.body.slice(m[0].length));
    if (m[1] === "CON") {
      state.mode = "open";
    } else {
      state.session = null;
      state.mode = "idle";
      state.outcome = "ended";
    }
    render();
  }

  // -- SMS inbox -----------------------------------------------------------------

  var inboxSeq = 0;

  function formatTime(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) return iso;
    return when.toLocaleString([], {
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
  }

  function showInbox(data) {
    var list = el.inboxList;
    while (list.firstChild) list.removeChild(list.firstChild);
    var n = data.messages.length;
    el.inboxFor.textContent = n
      ? n + (n === 1 ? " message" : " messages") + " for " + data.msisdn + ", newest first"
      : "No messages for " + data.msisdn + " yet.";
    data.messages.forEach(function (msg) {
      var li = document.createElement("li");
      li.className = "sms";
      li.setAttribute("data-testid", "sms");
      li.dataset.id = String(msg.id);
      li.dataset.status = msg.status;

      var body = document.createElement("p");
      body.className = "sms-body";
      body.textContent = msg.body;

      var meta = document.createElement("p");
      meta.className = "sms-meta";
      var badge = document.createElement("span");
      badge.className = "sms-status status-" + msg.status;
      badge.textContent = msg.status;
      var time = document.createElement("time");
      time.dateTime = msg.created_at;
      time.textContent = formatTime(msg.created_at);
      var chars = document.createElement("span");
      chars.className = "sms-chars";
      chars.textContent = msg.body.length + " chars";
      meta.appendChild(badge);
      meta.appendChild(time);
      meta.appendChild(chars);

      li.appendChild(body);
      li.appendChild(meta);
      list.appendChild(li);
    });
  }

  function refreshInbox() {
    var seq = ++inboxSeq;
    var msisdn = el.msisdn.value.trim();
    el.inboxList.setAttribute("aria-busy", "true");
    return fetch(INBOX_URL + "?msisdn=" + encodeURIComponent(msisdn), {
      headers: { Accept: "application/json" },
    })
      .then(function (resp) {
        return resp.json().then(
          function (data) {
            return { ok: resp.ok, status: resp.status, data: data };
          },
          function () {
            return { ok: false, status: resp.status, data: {} };
          }
        );
      })
      .then(
        function (r) {
          if (seq !== inboxSeq) return; // a newer refresh is on its way
          if (!r.ok) {
            showInbox({ msisdn: msisdn, messages: [] });
            el.inboxFor.textContent =
              "Inbox: " + (r.data.error || "error " + r.status) + " (" + msisdn + ")";
            return;
          }
          showInbox(r.data);
        },
        function (err) {
          if (seq !== inboxSeq) return;
          el.inboxFor.textContent = "Inbox: cannot reach the server (" + err + ")";
        }
      )
      .then(function () {
        if (seq === inboxSeq) el.inboxList.removeAttribute("aria-busy");
      });
  }

  // -- wiring --------------------------------------------------------------------

  Array.prototype.forEach.call(phone.querySelectorAll(".key"), function (button) {
    button.addEventListener("click", function () {
      press(button.dataset.key);
    });
  });
  el.call.addEventListener("click", call);
  el.hangup.addEventListener("click", hangUp);

  // Clear: a press deletes one character, a long press clears the entry.
  var longPressTimer = 0;
  var longPressed = false;
  el.clear.addEventListener("pointerdown", function () {
    longPressed = false;
    window.clearTimeout(longPressTimer);
    longPressTimer = window.setTimeout(function () {
      longPressed = true;
      clearEntry();
    }, LONG_PRESS_MS);
  });
  ["pointerup", "pointerleave", "pointercancel"].forEach(function (type) {
    el.clear.addEventListener(type, function () {
      window.clearTimeout(longPressTimer);
    });
  });
  el.clear.addEventListener("click", function () {
    if (longPressed) {
      longPressed = false;
      return;
    }
    backspace();
  });

  function keyButton(key) {
    return phone.querySelector('.key[data-key="' + key + '"]');
  }

  function isTextField(node) {
    return (
      node instanceof HTMLElement &&
      (node.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(node.tagName))
    );
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || isTextField(e.target)) return;
    var t = e.target;
    var onPhone = !(t instanceof Element) || t === document.body ||
      t === document.documentElement || phone.contains(t);
    if (/^[0-9*#]$/.test(e.key)) {
      e.preventDefault();
      press(e.key);
      flashKey(keyButton(e.key));
    } else if (e.key === "Backspace") {
      e.preventDefault();
      backspace();
      flashKey(el.clear);
    } else if (e.key === "Delete") {
      e.preventDefault();
      clearEntry();
      flashKey(el.clear);
    } else if (e.key === "Enter" && onPhone) {
      // On a focused phone button Enter means Call/Send, as on the handset.
      e.preventDefault();
      if (!e.repeat) {
        call();
        flashKey(el.call);
      }
    } else if (e.key === "Escape") {
      hangUp();
      flashKey(el.hangup);
    }
  });

  el.msisdn.addEventListener("change", refreshInbox);
  el.msisdn.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      refreshInbox();
    }
  });
  el.inboxRefresh.addEventListener("click", refreshInbox);

  function tick() {
    var now = new Date();
    el.clock.textContent =
      ("0" + now.getHours()).slice(-2) + ":" + ("0" + now.getMinutes()).slice(-2);
  }
  tick();
  window.setInterval(tick, 15000);

  idleScreen();
  render();
  refreshInbox();
})();
