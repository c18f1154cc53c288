// meterhub self-service terminal: heartbeat, idle timeout, on-screen keyboard, the live read
// and the wait for a payment. No framework; every screen works as a plain form without it,
// except the live read and the automatic move to the receipt.
(function () {
  "use strict";
  var body = document.body;
  var csrf = (document.querySelector("meta[name=csrf-token]") || {}).content || "";

  function post(url, data) {
    var form = new URLSearchParams(data || {});
    return fetch(url, { method: "POST", body: form, credentials: "same-origin", cache: "no-store",
                        headers: { "X-CSRFToken": csrf, Accept: "application/json" } });
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
  }

  function json(response) {
    // a redirect means the device was unpaired, the visit ended, or the terminal went out of service
    if (response.redirected || response.status === 503) { location.assign(body.dataset.start || location.href); throw new Error("left"); }
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  // --- heartbeat: the console sees the terminal online; a disabled terminal goes out of service
  if (body.dataset.heartbeat) {
    var every = Math.max(1, parseInt(body.dataset.heartbeatS, 10) || 15) * 1000;
    var beat = function () {
      post(body.dataset.heartbeat, { version: body.dataset.version })
        .then(function (r) { if (r.redirected) { location.reload(); throw new Error("unpaired"); } return r.json(); })
        .then(function (s) {
          var inService = body.dataset.inService === "1";
          if (s.in_service !== inService) location.assign(body.dataset.start);
          else if (s.version !== body.dataset.version && body.dataset.screen === "start") location.reload();
          else setTimeout(beat, (s.every_s || every / 1000) * 1000);
        })
        .catch(function () { setTimeout(beat, every); });
    };
    setTimeout(beat, body.dataset.screen === "out-of-service" ? every : 300);
  }

  // --- idle: a screen left alone is cleared for the next customer
  var idleS = parseInt(body.dataset.idle, 10) || 0;
  var finishForm = document.getElementById("finish-form");
  if (idleS && finishForm) {
    var warnS = Math.min(15, Math.floor(idleS / 3));
    var overlay = document.getElementById("idle"), count = document.getElementById("idle-count");
    var armed = body.dataset.screen !== "start";  // the start screen waits for someone to touch it
    var left = idleS;
    var reset = function () { armed = true; left = idleS; if (overlay) overlay.hidden = true; };
    ["pointerdown", "keydown", "input"].forEach(function (type) { document.addEventListener(type, reset, true); });
    setInterval(function () {
      if (!armed) return;
      left -= 1;
      if (left <= warnS && overlay) { overlay.hidden = false; count.textContent = Math.max(left, 0); }
      if (left <= 0) { armed = false; finishForm.submit(); }
    }, 1000);
  }

  // --- on-screen keyboard
  document.addEventListener("click", function (event) {
    var key = event.target.closest(".keyboard [data-key]");
    if (!key) return;
    var input = document.getElementById(key.closest(".keyboard").dataset.for);
    if (!input) return;
    var k = key.dataset.key;
    if (k === "back") input.value = input.value.slice(0, -1);
    else if (k === "clear") input.value = "";
    else if (!input.maxLength || input.maxLength < 0 || input.value.length < input.maxLength) input.value += k;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) window.print();
  });

  // --- the meter read live
  var live = document.getElementById("live");
  if (live && live.dataset.start) {
    var again = document.getElementById("live-again");
    var show = function (s) {
      live.dataset.state = s.state;
      document.getElementById("live-message").lastChild.textContent = s.message;
      if (s.register) {
        document.getElementById("live-register").textContent = s.register;
        document.getElementById("live-unit").textContent = s.unit;
      } else if (s.final) {
        document.getElementById("live-register").textContent = "–";
      }
      var relay = document.getElementById("live-relay");
      if (relay && (s.relay || s.final)) {
        relay.dataset.relay = s.relay || "";
        relay.textContent = s.relay ? relay.dataset[s.relay] : "–";
      }
      if (again) again.hidden = !(s.final && s.state !== "limit" && s.state !== "unavailable");
    };
    var read = function () {
      live.dataset.state = "reading";
      if (again) again.hidden = true;
      var until = Date.now() + 60 * 1000;  // the server's own limit is shorter; this covers a silent server
      post(live.dataset.start).then(json).then(function (s) {
        show(s);
        if (s.final || !s.poll) return;
        var tick = function () {
          if (Date.now() > until) { show({ state: "no_reply", final: true, message: live.dataset.noReply }); return; }
          getJson(s.poll).then(json).then(function (n) { show(n); if (!n.final) setTimeout(tick, 1000); })
            .catch(function () { setTimeout(tick, 2000); });
        };
        setTimeout(tick, 800);
      }).catch(function () { show({ state: "no_reply", final: true, message: live.dataset.noReply }); });
    };
    if (again) again.addEventListener("click", read);
    read();
  }

  // --- waiting for the payment: on to the receipt as soon as the provider's webhook has come
  var order = document.getElementById("order");
  if (order && order.dataset.order === "pending") {
    var poll = function () {
      getJson(order.dataset.poll).then(json).then(function (s) {
        order.dataset.order = s.status;
        if (s.paid) { location.assign(s.receipt); return; }
        if (s.status === "pending") setTimeout(poll, 1500); else location.reload();
      }).catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1500);
  }
})();
