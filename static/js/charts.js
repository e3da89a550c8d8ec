// Live metric charts on uPlot: raw points are kept, the display applies EMA smoothing and an optional
// log-like y scale (asinh, so negative hinge/WGAN losses still plot). Used by the run and compare pages.
(function () {
  "use strict";

  const PALETTE = ["#5aa9ff", "#f2c94c", "#4cc38a", "#ff6b6b", "#b197fc", "#ffa94d"];
  const EVENT_COLORS = { info: "#6b7280", warning: "#ffa94d", error: "#ff6b6b", best: "#4cc38a" };

  // Exponential moving average that skips gaps (null) without resetting.
  function ema(values, alpha) {
    if (!alpha) return values;
    const out = new Array(values.length);
    let acc = null;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v == null || !isFinite(v)) { out[i] = null; continue; }
      acc = acc == null ? v : alpha * acc + (1 - alpha) * v;
      out[i] = acc;
    }
    return out;
  }

  function fmt(v) {
    if (v == null) return "—";
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e4) ? v.toExponential(2) : v.toFixed(4);
  }

  class MetricChart {
    // series: [{key, label, color?}]; xKey: which field is the x axis (step).
    constructor(el, series, opts = {}) {
      this.el = el;
      this.series = series;
      this.xKey = opts.xKey || "step";
      this.smoothing = opts.smoothing || 0;
      this.logY = false;
      this.syncKey = opts.syncKey || "pokegan";
      this.x = [];
      this.raw = series.map(() => []);
      this.plot = null;
      this.events = [];
      this._build();
      new ResizeObserver(() => this._resize()).observe(el);
    }

    _build() {
      if (this.plot) this.plot.destroy();
      const width = Math.max(280, this.el.clientWidth || 600);
      this.plot = new uPlot({
        width, height: 260,
        cursor: { sync: { key: this.syncKey }, drag: { x: true, y: false } },
        scales: { x: { time: false }, y: this.logY ? { distr: 4, asinh: 0.01 } : { auto: true } },
        axes: [
          { stroke: "#9aa1ad", grid: { stroke: "#232833" }, ticks: { stroke: "#2a2f3a" }, label: "step" },
          { stroke: "#9aa1ad", grid: { stroke: "#232833" }, ticks: { stroke: "#2a2f3a" }, size: 60 },
        ],
        legend: { live: true },
        hooks: { draw: [(u) => this._drawEvents(u)] },
        series: [
          { label: "step", value: (u, v) => (v == null ? "—" : v) },
          ...this.series.map((s, i) => ({
            label: s.label, stroke: s.color || PALETTE[i % PALETTE.length], width: 1.5,
            spanGaps: false, value: (u, v) => fmt(v), points: { show: false },
          })),
        ],
      }, this._data(), this.el);
    }

    _data() {
      const a = this.smoothing;
      return [this.x, ...this.raw.map((vals) => ema(vals, a))];
    }

    _resize() {
      if (this.plot) this.plot.setSize({ width: Math.max(280, this.el.clientWidth), height: 260 });
    }

    // Replace everything (first load, or a re-fetch after zoom/downsampling).
    setPoints(points) {
      this.x = points.map((p) => p[this.xKey]);
      this.raw = this.series.map((s) => points.map((p) => p[s.key]));
      this.plot.setData(this._data());
    }

    // Append rows newer than the last one shown; keeps the user's zoom if they zoomed in.
    append(points) {
      if (!points.length) return;
      const scale = this.plot.scales.x;
      const zoomed = this.x.length && (scale.max < this.x[this.x.length - 1] || scale.min > this.x[0]);
      for (const p of points) {
        this.x.push(p[this.xKey]);
        this.series.forEach((s, i) => this.raw[i].push(p[s.key]));
      }
      this.plot.setData(this._data(), !zoomed);
    }

    // Vertical markers for detections and actions (collapse warnings, NaN rollbacks, resumes) and the best
    // checkpoint ({step, severity: "best"}, drawn solid).
    setEvents(events) { this.events = events; this.plot.redraw(false); }

    _drawEvents(u) {
      if (!this.events.length) return;
      const ctx = u.ctx;
      const { top, height } = u.bbox;
      ctx.save();
      ctx.setLineDash([4, 4]);
      ctx.lineWidth = 1;
      for (const e of this.events) {
        const x = Math.round(u.valToPos(e.step, "x", true));
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
        ctx.strokeStyle = EVENT_COLORS[e.severity] || EVENT_COLORS.info;
        ctx.setLineDash(e.severity === "best" ? [] : [4, 4]);
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + height);
        ctx.stroke();
      }
      ctx.restore();
    }

    setSmoothing(alpha) { this.smoothing = alpha; this.plot.setData(this._data(), false); }
    setLogY(on) { this.logY = on; this._build(); }
    resetZoom() { this.plot.setData(this._data(), true); }
    lastX() { return this.x.length ? this.x[this.x.length - 1] : -1; }
  }

  window.PokeganCharts = { MetricChart, ema, PALETTE };
})();
