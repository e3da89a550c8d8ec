// Compare page: overlay each run's downsampled Loss_G / Loss_D on shared step axes; one epoch slider for grids.
(function () {
  "use strict";
  const holder = document.getElementById("compare-charts");
  const onlyDiff = document.getElementById("only-diff");
  if (onlyDiff) {
    onlyDiff.addEventListener("change", () => {
      document.getElementById("hyperparameters").classList.toggle("only-diff", onlyDiff.checked);
    });
  }
  const slider = document.getElementById("compare-epoch");
  if (slider) {
    const epochs = JSON.parse(slider.dataset.epochs);
    slider.addEventListener("input", () => {
      const epoch = epochs[Number(slider.value)];
      document.getElementById("compare-epoch-label").textContent = epoch;
      document.querySelectorAll(".compare-grid").forEach((img) => { img.src = `/api/runs/${img.dataset.run}/grids/${epoch}.png`; });
    });
  }
  if (!holder) return;
  const { ema, PALETTE } = window.PokeganCharts;
  const runIds = JSON.parse(holder.dataset.runs);
  const smoothingInput = document.getElementById("smoothing");
  let plots = [];
  let tables = null;

  function build(key, el) {
    const alpha = parseFloat(smoothingInput.value);
    const data = uPlot.join(tables.map((t) => [t.step, ema(t[key], alpha)]));
    return new uPlot({
      width: Math.max(280, el.clientWidth), height: 260,
      cursor: { sync: { key: "compare" } },
      scales: { x: { time: false } },
      axes: [{ stroke: "#9aa1ad", grid: { stroke: "#232833" }, label: "step" }, { stroke: "#9aa1ad", grid: { stroke: "#232833" }, size: 60 }],
      series: [{ label: "step" }, ...runIds.map((id, i) => ({ label: `#${id}`, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: true, points: { show: false } }))],
    }, data, el);
  }

  function render() {
    plots.forEach((p) => p.destroy());
    plots = [build("loss_g", document.getElementById("chart-loss-g")), build("loss_d", document.getElementById("chart-loss-d"))];
  }

  Promise.all(runIds.map((id) => fetch(`/api/runs/${id}/metrics?max_points=2000`).then((r) => r.json()))).then((all) => {
    tables = all.map((points) => ({
      step: points.map((p) => p.step), loss_g: points.map((p) => p.loss_g), loss_d: points.map((p) => p.loss_d),
    }));
    render();
  });
  smoothingInput.addEventListener("input", () => tables && render());
})();
