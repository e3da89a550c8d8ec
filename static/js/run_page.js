// The run page: live charts fed by /api/runs/{id}/metrics?after_step=..., polling every 1.5 s until the run
// ends, and the epoch-grid viewer (slider + arrow keys) over the server-rendered grid strip.
(function () {
  "use strict";
  const ACTIVE = ["queued", "running"];
  const POLL_MS = 1500;
  const FIRST_LOAD_POINTS = 4000;
  const charts = document.getElementById("charts");
  if (!charts) return;
  const runId = charts.dataset.runId;

  // ---- charts ----
  const { MetricChart } = window.PokeganCharts;
  const smoothingInput = document.getElementById("smoothing");
  const smoothing = parseFloat(smoothingInput.value);
  // The series come from the server (models/series.py), each drawn on the chart its `chart` names.
  const seriesList = JSON.parse(document.getElementById("series-list").textContent);
  const allCharts = Array.from(charts.querySelectorAll("[data-chart]")).map((el) => new MetricChart(
    el,
    seriesList.filter((s) => s.chart === el.dataset.chart).map((s) => ({ key: s.name, label: s.label, color: s.color })),
    { smoothing },
  ));

  smoothingInput.addEventListener("input", () => {
    const a = parseFloat(smoothingInput.value);
    document.getElementById("smoothing-value").textContent = a.toFixed(2);
    allCharts.forEach((c) => c.setSmoothing(a));
  });
  document.getElementById("log-y").addEventListener("change", (e) => allCharts.forEach((c) => c.setLogY(e.target.checked)));
  document.getElementById("reset-zoom").addEventListener("click", () => allCharts.forEach((c) => c.resetZoom()));

  async function getJson(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json();
  }

  let lastStep = -1;
  let events = [];
  let bestId = null;
  let bestStep = null;
  // Markers: every event coloured by severity, plus the best checkpoint's step in green.
  function drawMarkers() {
    const marks = bestStep == null ? events : events.concat([{ step: bestStep, severity: "best" }]);
    allCharts.forEach((c) => c.setEvents(marks));
    charts.dataset.markers = String(marks.length);
  }
  // All events each time: a rollback or resume may have replaced some, and there are few.
  async function refreshEvents() {
    events = await getJson(`/api/runs/${runId}/events`);
    drawMarkers();
  }
  async function refreshBest(run) {
    if (run.best_checkpoint_id === bestId) return;
    bestId = run.best_checkpoint_id;
    const checkpoints = bestId == null ? [] : await getJson(`/api/runs/${runId}/checkpoints`);
    const best = checkpoints.find((c) => c.id === bestId);
    bestStep = best ? best.step : null;
    charts.dataset.bestStep = bestStep == null ? "" : String(bestStep);
    drawMarkers();
  }
  async function firstLoad() {
    const points = await getJson(`/api/runs/${runId}/metrics?max_points=${FIRST_LOAD_POINTS}`);
    allCharts.forEach((c) => c.setPoints(points));
    if (points.length) lastStep = points[points.length - 1].step;
    await refreshEvents();
    await refreshBest(await getJson(`/api/runs/${runId}`));
    charts.dataset.points = String(points.length);
  }

  async function poll() {
    let status = charts.dataset.status;
    try {
      const run = await getJson(`/api/runs/${runId}`);
      status = run.status;
      await refreshBest(run);
      const points = await getJson(`/api/runs/${runId}/metrics?after_step=${lastStep}&limit=5000`);
      if (points.length) {
        allCharts.forEach((c) => c.append(points));
        lastStep = points[points.length - 1].step;
        charts.dataset.points = String(Number(charts.dataset.points || 0) + points.length);
      }
      if (points.length || !ACTIVE.includes(status)) await refreshEvents();  // the end may log a last one
    } catch (err) {
      console.warn("metrics poll failed", err);
    }
    charts.dataset.status = status;
    charts.dataset.lastStep = String(lastStep);
    if (ACTIVE.includes(status)) setTimeout(poll, POLL_MS);
    else charts.dataset.polling = "stopped";
  }

  firstLoad().then(() => {
    if (ACTIVE.includes(charts.dataset.status)) setTimeout(poll, POLL_MS);
    else charts.dataset.polling = "stopped";
  });
  // A resumed run starts polling again.
  document.body.addEventListener("run-changed", () => {
    if (charts.dataset.polling === "stopped") { charts.dataset.polling = "on"; setTimeout(poll, POLL_MS); }
  });

  // ---- epoch grid viewer ----
  let followLatest = true;
  let selectedEpoch = null;

  function gridLinks() { return Array.from(document.querySelectorAll("#epoch-strip a[data-epoch]")); }

  // The strip is newest first; the slider goes oldest (0) to newest (max).
  function select(index) {
    const links = gridLinks();
    if (!links.length) return;
    const oldestFirst = links.slice().reverse();
    index = Math.max(0, Math.min(oldestFirst.length - 1, index));
    const link = oldestFirst[index];
    selectedEpoch = link.dataset.epoch;
    followLatest = index === oldestFirst.length - 1;
    const img = document.getElementById("viewer-img");
    img.src = link.dataset.url;
    document.getElementById("viewer-link").href = link.dataset.url;
    document.getElementById("viewer-caption").textContent = `Generated · epoch ${selectedEpoch}`;
    document.getElementById("epoch-label").textContent = selectedEpoch;
    const slider = document.getElementById("epoch-slider");
    slider.max = String(oldestFirst.length - 1);
    slider.value = String(index);
    links.forEach((a) => a.classList.toggle("selected", a === link));
  }

  function initViewer() {
    const slider = document.getElementById("epoch-slider");
    if (!slider || slider.dataset.bound) return;
    slider.dataset.bound = "1";
    const oldestFirst = gridLinks().reverse();
    let index = oldestFirst.length - 1;
    if (!followLatest && selectedEpoch != null) {
      const found = oldestFirst.findIndex((a) => a.dataset.epoch === selectedEpoch);
      if (found >= 0) index = found;
    }
    select(index);
    slider.addEventListener("input", () => select(parseInt(slider.value, 10)));
    gridLinks().forEach((a) => a.addEventListener("click", (e) => {
      if (e.metaKey || e.ctrlKey || e.shiftKey) return;  // let modified clicks open the PNG
      e.preventDefault();
      select(gridLinks().reverse().indexOf(a));
    }));
  }

  document.addEventListener("keydown", (e) => {
    if (["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName) && document.activeElement.id !== "epoch-slider") return;
    const slider = document.getElementById("epoch-slider");
    if (!slider || (e.key !== "ArrowLeft" && e.key !== "ArrowRight")) return;
    e.preventDefault();
    select(parseInt(slider.value, 10) + (e.key === "ArrowRight" ? 1 : -1));
  });
  document.body.addEventListener("htmx:afterSettle", initViewer);
  initViewer();
})();
