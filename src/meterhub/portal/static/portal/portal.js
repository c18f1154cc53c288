// meterhub customer portal: small helpers, no framework. The pages work without it; with it,
// payment and supply progress update by themselves and the app can be installed.
(function () {
  "use strict";
  var script = document.currentScript;

  if ("serviceWorker" in navigator && script && script.dataset.sw) {
    navigator.serviceWorker.register(script.dataset.sw, { scope: script.dataset.scope }).catch(function () {});
  }

  document.addEventListener("click", function (event) {
    var preset = event.target.closest("[data-amount]");
    if (preset) {
      var input = document.getElementById("id_amount");
      input.value = preset.dataset.amount;
      document.querySelectorAll("[data-amount]").forEach(function (b) { b.classList.toggle("chosen", b === preset); });
      input.focus();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  function text(id, value) {
    var el = document.getElementById(id);
    if (el && value !== undefined) el.textContent = value;
  }

  function showSupply(p) {
    var box = document.getElementById("supply");
    if (!box || !p) return;
    box.dataset.state = p.state;
    box.className = "card supply supply-" + p.state;
    text("supply-label", p.label);
    var list = document.getElementById("supply-steps");
    if (list) {
      list.hidden = !p.steps.length;
      list.innerHTML = "";
      p.steps.forEach(function (step) {
        var li = document.createElement("li");
        li.textContent = step.label;
        li.dataset.step = step.key;
        if (step.done) li.className = "done";
        list.appendChild(li);
      });
    }
  }

  function showOrder(s) {
    var box = document.getElementById("order");
    if (!box) return;
    box.dataset.order = s.order;
    var title = document.getElementById("order-title");
    if (title) title.textContent = s.paid ? title.dataset.paid : (s.order === "pending" ? title.dataset.pending : s.order_label);
    text("order-balance", s.currency + " " + s.balance);
    text("order-receipt", s.receipt || "–");
    if (s.order !== "pending") { var again = document.getElementById("pay-again"); if (again) again.remove(); }
    showSupply(s.supply);
  }

  // Poll while something is on its way: a payment, or a command to the meter. Stop when it has arrived.
  function poll(el) {
    var url = el.dataset.poll, delay = 1500, until = Date.now() + 10 * 60 * 1000;
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          if (r.redirected) { location.reload(); throw new Error("signed out"); }
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (data) {
          var supply = data.supply || data;
          if (data.order !== undefined) showOrder(data); else showSupply(data);
          var waiting = (data.order === "pending") || supply.in_flight;
          if (waiting && Date.now() < until) setTimeout(tick, delay);
          else el.dataset.settled = "1";
        })
        .catch(function () { if (Date.now() < until) setTimeout(tick, delay * 4); });
    }
    setTimeout(tick, delay);
  }

  document.querySelectorAll("[data-poll]").forEach(poll);
})();
