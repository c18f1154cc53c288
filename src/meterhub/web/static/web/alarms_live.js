// New alarms appear on any console page without reloading (server-sent events from
// /alarms/stream/); on the Alarms page they are also added to the top of the table.
// The optional sound is remembered in this browser.
(function () {
  "use strict";
  var url = document.body.dataset.alarmStream;
  var panel = document.getElementById("live-alarms");
  if (!url || !panel || !window.EventSource) return;
  var list = panel.querySelector("ul");
  var sound = document.getElementById("alarm-sound");
  sound.checked = localStorage.getItem("meterhub.alarmSound") === "1";
  sound.addEventListener("change", function () {
    localStorage.setItem("meterhub.alarmSound", sound.checked ? "1" : "0");
  });

  function beep(severity) {
    if (!sound.checked || !(window.AudioContext || window.webkitAudioContext)) return;
    var ctx = new (window.AudioContext || window.webkitAudioContext)();
    var osc = ctx.createOscillator();
    osc.frequency.value = severity === "critical" ? 880 : 600;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
  }

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }

  function show(alarm) {
    if (document.querySelector('[data-live-alarm-id="' + alarm.id + '"]')) return;
    var item = document.createElement("li");
    item.dataset.liveAlarm = alarm.kind;
    item.dataset.liveAlarmId = alarm.id;
    item.setAttribute("role", "alert");
    item.appendChild(text("span", alarm.severity_label, "badge " + (alarm.severity === "critical" ? "bad" : "warn")));
    var link = text("a", " " + alarm.label + " · " + alarm.where + " · " + alarm.raised_at);
    link.href = alarm.url;
    item.appendChild(link);
    var close = text("button", "×", "link");
    close.type = "button";
    close.setAttribute("aria-label", "×");
    close.addEventListener("click", function () {
      item.remove();
      if (!list.children.length) panel.hidden = true;
    });
    item.appendChild(close);
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 5) list.removeChild(list.lastChild);
    panel.hidden = false;
    var table = document.querySelector("table[data-alarm-table] tbody");
    if (table) {
      var empty = table.querySelector("tr[data-empty]");
      if (empty) empty.remove();
      var row = document.createElement("tr");
      row.dataset.alarm = alarm.kind;
      row.className = "live-new";
      [alarm.raised_at, alarm.label, alarm.severity_label, alarm.where + " · " + alarm.site, "1", ""].forEach(
        function (v) { row.appendChild(text("td", v)); });
      row.appendChild(text("td", ""));
      table.insertBefore(row, table.firstChild);
    }
    beep(alarm.severity);
  }

  var source = new EventSource(url);
  source.addEventListener("alarm", function (e) { show(JSON.parse(e.data)); });
})();
