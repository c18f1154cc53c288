/* The meter page: load-profile chart (uPlot) fed by series.json, and the read-now panel.
   Zooming (drag across the chart) asks the server again for the narrower range, so a
   year shown as buckets becomes every reading when zoomed to a day. */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("chart-config").textContent);
  const text = JSON.parse(document.getElementById("chart-text").textContent);
  const QUALITY_COLOURS = {estimated: "#d97706", edited: "#2563eb", suspect: "#dc2626"};
  const form = document.getElementById("chart-form");
  const box = document.getElementById("chart");
  const point = document.getElementById("chart-point");
  const errorLine = document.getElementById("chart-error");
  let plot = null;
  let request = {days: 7};
  let loads = 0;

  function csrf() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return m ? decodeURIComponent(m[1]) : (field ? field.value : "");
  }

  function fmtTime(t, data, seconds = false) {
    const d = uPlot.tzDate(new Date(t * 1000), data.time_zone);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}` +
      (seconds ? `:${p(d.getSeconds())}` : "");
  }

  // 24-hour, year-month-day ticks: the same for every language, no "12am"; seconds when
  // the ticks are less than a minute apart (a meter read twice in a minute)
  function tick(t, incr, data) {
    const full = fmtTime(t, data);
    if (incr >= 28 * 86400) return full.slice(0, 7);
    if (incr >= 86400 || full.endsWith("00:00")) return full.slice(5, 10);
    return incr < 60 ? fmtTime(t, data, true).slice(11) : full.slice(11);
  }

  function widestLabel(u, axis, labels) {
    u.ctx.font = axis.font[0];
    return Math.max(0, ...(labels || []).map((v) => u.ctx.measureText(String(v)).width)) / devicePixelRatio;
  }

  // a y axis as wide as its widest tick label: a register reads eight digits and more
  function fittedSize(u, labels, axisIdx, cycleNum) {
    const axis = u.axes[axisIdx];
    if (cycleNum > 1) return axis._size; // uPlot asks again while the layout settles
    return Math.max(40, Math.ceil(axis.ticks.size + axis.gap + widestLabel(u, axis, labels) + 4));
  }

  // for the page's tests (with the time axis's labels, in build): whether every y axis's labels fit in it
  function axesFit(u) {
    return u.axes.slice(1).every((axis) => axis._size >= axis.ticks.size + axis.gap + widestLabel(u, axis, axis._values));
  }

  function marks(values, qualities, quality) {
    return values.map((v, i) => (qualities[i] === quality ? v : null));
  }

  function build(data) {
    const cumulative = data.cumulative;
    const main = cumulative ? data.consumption : data.value;
    const qualities = cumulative ? data.consumption_quality : data.quality;
    const unit = data.unit || "";
    const series = [{}];
    const columns = [data.t];
    const bands = [];
    if (cumulative) {
      series.push({label: `${text.consumption} (${unit})`, stroke: "#1d6fb8", fill: "rgba(29,111,184,.25)",
                   paths: uPlot.paths.bars({size: [0.8, 40]}), points: {show: false}, scale: "y"});
      series.push({label: `${text.register} (${unit})`, stroke: "#475467", width: 1, scale: "reg",
                   points: {show: false}});
      columns.push(main, data.last);
    } else {
      series.push({label: `${data.label} (${unit})`, stroke: "#1d6fb8", width: 1.5, points: {show: false}});
      columns.push(data.value);
      if (data.bucket_s) {
        series.push({label: text.high, stroke: "rgba(29,111,184,.35)", width: 1, points: {show: false}});
        series.push({label: text.low, stroke: "rgba(29,111,184,.35)", width: 1, points: {show: false}});
        columns.push(data.high, data.low);
        bands.push({series: [2, 3], fill: "rgba(29,111,184,.12)"});
      }
    }
    for (const quality of Object.keys(QUALITY_COLOURS)) {
      series.push({label: text.qualities[quality], stroke: QUALITY_COLOURS[quality], fill: QUALITY_COLOURS[quality],
                   paths: () => null, points: {show: true, size: 9, space: 0, width: 2}, scale: "y",
                   class: `q-${quality}`});
      columns.push(marks(main, qualities, quality));
    }
    const axes = [{values: (u, splits, ai, space, incr) => splits.map((t) => tick(t, incr, data))},
                  {scale: "y", label: unit, size: fittedSize}];
    if (cumulative) axes.push({scale: "reg", side: 1, grid: {show: false}, size: fittedSize});
    const width = Math.max(280, box.clientWidth);
    const opts = {
      width, height: width < 600 ? 240 : 320, series, axes, bands,
      // bars stand on zero; lines use the data's own range
      scales: {x: {time: true}, y: cumulative ? {range: (u, min, max) => [Math.min(0, min), Math.max(max, 0) * 1.05 || 1]} : {}},
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), data.time_zone),
      legend: {show: width >= 600},
      cursor: {drag: {x: true, y: false, setScale: false}},
      hooks: {
        draw: [(u) => {
          box.dataset.axesFit = String(axesFit(u));
          box.dataset.timeTicks = (u.axes[0]._values || []).join("|");
        }],
        setSelect: [(u) => {
          if (u.select.width < 4) return;
          const from = u.posToVal(u.select.left, "x");
          const to = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({left: 0, top: 0, width: 0, height: 0}, false);
          load({start: new Date(from * 1000).toISOString(), end: new Date(to * 1000).toISOString()});
        }],
        setCursor: [(u) => {
          const i = u.cursor.idx;
          if (i == null || data.t[i] == null) return;
          const shown = main[i] == null ? "—" : `${main[i]} ${unit}`;
          const explained = (data.raw[i] != null && (cumulative || !data.bucket_s)) ? ` = ${data.raw[i]} × ${data.multiplier[i]}` : "";
          const detail = cumulative ? ` · ${text.register} ${data.last[i]} ${unit}${explained}` : explained;
          point.textContent = `${fmtTime(data.t[i], data)} · ${shown}${detail} · ${text.qualities[qualities[i]] || ""}`;
        }],
      },
    };
    if (plot) plot.destroy();
    box.innerHTML = "";
    plot = new uPlot(opts, columns, box);
    box.dataset.points = String(data.t.length);
    box.dataset.bucket = String(data.bucket_s);
    box.dataset.marked = String(qualities.filter((q) => q !== "actual").length);
  }

  async function load(params) {
    request = Object.assign({}, params, {quantity: form.quantity.value});
    const url = new URL(config.series, window.location.href);
    for (const [k, v] of Object.entries(request)) if (v) url.searchParams.set(k, v);
    const mine = ++loads;
    box.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {headers: {Accept: "application/json"}, credentials: "same-origin"});
      const data = await response.json();
      if (mine !== loads) return; // a newer request has been made meanwhile
      if (!response.ok) throw new Error(data.error || text.failed);
      errorLine.hidden = true;
      document.getElementById("chart-range").textContent = data.range;
      document.getElementById("chart-resolution").textContent = data.resolution;
      point.textContent = data.t.length ? "" : text.no_data;
      build(data);
      box.dataset.loads = String(Number(box.dataset.loads || 0) + 1);
      box.dataset.range = `${data.start}/${data.end}`;
      box.dataset.quantity = data.quantity;
    } catch (err) {
      errorLine.textContent = err.message || text.failed;
      errorLine.hidden = false;
    } finally {
      box.removeAttribute("aria-busy");
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    form.querySelectorAll("[data-days]").forEach((b) => b.classList.remove("active"));
    load({start: form.start.value, end: form.end.value});
  });
  form.quantity.addEventListener("change", () => load(Object.assign({}, request)));
  form.querySelectorAll("[data-days]").forEach((button) => button.addEventListener("click", () => {
    form.querySelectorAll("[data-days]").forEach((b) => b.classList.toggle("active", b === button));
    form.start.value = form.end.value = "";
    load({days: button.dataset.days});
  }));
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => plot && plot.setSize({width: Math.max(280, box.clientWidth),
                                                         height: box.clientWidth < 600 ? 240 : 320}), 150);
  });
  load(request);

  // --- read now ------------------------------------------------------------------------
  const readButton = document.getElementById("read-now-button");
  if (!readButton) return;
  const status = document.getElementById("read-now-status");
  const table = document.getElementById("read-now-values");

  function show(answer) {
    status.textContent = answer.message;
    status.className = "read-now-status " + (answer.ok ? "good" : answer.final ? "bad" : "muted");
    status.dataset.state = answer.final ? (answer.ok ? "done" : "failed") : "waiting";
    const rows = answer.values.map((v) => {
      const tr = document.createElement("tr");
      const cells = v.error ? [v.label, v.error, "", "", ""] : [v.label, v.raw, v.multiplier, v.value, v.unit];
      cells.forEach((c, i) => {
        const td = document.createElement("td");
        td.textContent = c;
        if (i > 0 && i < 4) td.className = "num";
        if (v.error && i === 1) td.className = "bad";
        tr.appendChild(td);
      });
      tr.dataset.quantity = v.quantity;
      return tr;
    });
    table.querySelector("tbody").replaceChildren(...rows);
    table.hidden = rows.length === 0;
  }

  async function poll(url, deadline) {
    try {
      const response = await fetch(url, {credentials: "same-origin"});
      const answer = await response.json();
      show(answer);
      if (answer.final) { readButton.disabled = false; return; }
    } catch (err) { /* a dropped poll is retried below */ }
    if (Date.now() > deadline) { readButton.disabled = false; return; }
    setTimeout(() => poll(url, deadline), 1500);
  }

  readButton.addEventListener("click", async () => {
    readButton.disabled = true;
    table.hidden = true;
    status.className = "read-now-status muted";
    status.dataset.state = "sending";
    status.textContent = "…";
    try {
      const response = await fetch(config.read_now, {method: "POST", credentials: "same-origin",
                                                     headers: {"X-CSRFToken": csrf()}});
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || text.failed);
      poll(body.poll, Date.now() + 3 * 60 * 1000);
    } catch (err) {
      status.textContent = err.message || text.failed;
      status.className = "read-now-status bad";
      status.dataset.state = "failed";
      readButton.disabled = false;
    }
  });
})();
