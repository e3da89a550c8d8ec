// The generate page calls the JSON API (POST /generate, /generate/interpolate) and shows the images it returns.
(function () {
  "use strict";
  const form = document.getElementById("generate-form");
  if (!form) return;
  const errorBox = document.getElementById("generate-error");
  const result = document.getElementById("result");
  const meta = document.getElementById("result-meta");
  const downloadPng = document.getElementById("download-png");
  // A logged-in browser's writes carry the page's CSRF token (see app/auth.py).
  const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";

  function requestBody(format) {
    const data = new FormData(form);
    const body = {
      run_id: Number(data.get("run_id")),
      n: Number(data.get("n") || 64),
      format,
      use_ema: data.get("use_ema") !== "false",
    };
    if (data.get("checkpoint_id")) body.checkpoint_id = Number(data.get("checkpoint_id"));
    if (data.get("seed") !== "") body.seed = Number(data.get("seed"));
    const label = data.get("label");
    if (label === "__each__") {
      const names = JSON.parse(document.getElementById("g-label").dataset.labels);
      body.labels = Array.from({ length: body.n }, (_, i) => names[i % names.length]);
    } else if (label) {
      body.label = label;
    }
    return body;
  }

  const statusLine = document.getElementById("generate-status");
  const MAX_BUSY_RETRIES = 30;
  function showStatus(text) { statusLine.textContent = text || ""; statusLine.hidden = !text; }

  // While a call is out, what the server is doing (GET /generate/state), so a long wait is explained.
  function describe(state) {
    const busy = `${state.running} generating, ${state.waiting} queued`;
    if (state.throttled && state.policy === "idle") return `Waiting for CPU: generation only gets what training leaves (${busy})…`;
    if (state.throttled) return `Waiting for CPU: generation has used its share of the processor for the moment, so a training run keeps its speed; yours starts within seconds (${busy})…`;
    if (state.waiting > 0) return `Waiting for CPU: ${busy}…`;
    return "Generating…";
  }
  function watchServer() {
    let timer = null;
    let stopped = false;
    const tick = async () => {
      try {
        const r = await fetch("/generate/state", { headers: { Accept: "application/json" } });
        if (r.ok && !stopped) showStatus(describe(await r.json()));
      } catch (e) { /* the answer itself will tell */ }
      if (!stopped) timer = setTimeout(tick, 700);
    };
    showStatus("Generating…");
    timer = setTimeout(tick, 300);
    return () => { stopped = true; clearTimeout(timer); showStatus(null); };
  }

  async function send(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
      body: JSON.stringify(body),
    });
  }

  // A 429 means every generation slot is taken: wait as told (Retry-After) and ask again, saying so.
  async function post(url, body) {
    let stop = watchServer();
    try {
      let response = await send(url, body);
      for (let tries = 1; response.status === 429 && tries <= MAX_BUSY_RETRIES; tries++) {
        const wait = Number(response.headers.get("Retry-After") || 2);
        stop();
        showStatus(`Waiting for CPU: the server is busy with other generations; asking again in ${wait} s…`);
        await new Promise((resolve) => setTimeout(resolve, wait * 1000));
        stop = watchServer();
        response = await send(url, body);
      }
      if (!response.ok) {
        let message = `${response.status} ${response.statusText}`;
        try {
          const detail = (await response.json()).detail;
          message = Array.isArray(detail) ? detail.map((d) => `${d.loc.slice(-1)[0]}: ${d.msg}`).join("; ") : detail;
        } catch (e) { /* not JSON */ }
        throw new Error(message);
      }
      return response;
    } finally {
      stop();
    }
  }

  function showError(err) { errorBox.textContent = err ? err.message : ""; errorBox.hidden = !err; }

  function saveBlob(blob, filename) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const button = document.getElementById("generate-btn");
    button.disabled = true;
    showError(null);
    try {
      const body = requestBody("png");
      const response = await post("/generate", body);
      const seed = response.headers.get("X-Seed");
      const url = URL.createObjectURL(await response.blob());
      result.innerHTML = "";
      const img = document.createElement("img");
      img.id = "generated-grid";
      img.src = url;
      img.alt = `generated images, seed ${seed}`;
      result.appendChild(img);
      const labels = response.headers.get("X-Labels");
      const shown = labels ? ` · labels ${[...new Set(labels.split(",").map(decodeURIComponent))].join(", ")}` : "";
      meta.textContent = `seed ${seed} · epoch ${response.headers.get("X-Checkpoint-Epoch")}${shown}`;
      form.querySelector("[name=seed]").placeholder = `random (last: ${seed})`;
      downloadPng.href = url;
      downloadPng.download = `run${body.run_id}-seed${seed}.png`;
      downloadPng.hidden = false;
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  });

  document.getElementById("download-zip").addEventListener("click", async () => {
    showError(null);
    try {
      const response = await post("/generate", requestBody("zip"));
      saveBlob(await response.blob(), `pokegan-seed${response.headers.get("X-Seed")}.zip`);
    } catch (err) { showError(err); }
  });

  const interp = document.getElementById("interpolate-form");
  // A conditional run's labels come with the checkpoint field (swapped when the run changes).
  function syncLabelB() {
    const picker = document.getElementById("g-label");
    const field = document.getElementById("i-label-b-field");
    const select = document.getElementById("i-label-b");
    const names = picker ? JSON.parse(picker.dataset.labels) : [];
    field.hidden = names.length === 0;
    select.replaceChildren(new Option("(keep the picked label)", ""), ...names.map((n) => new Option(n, n)));
  }
  syncLabelB();
  document.body.addEventListener("htmx:afterSwap", syncLabelB);

  async function interpolate(format) {
    showError(null);
    const data = new FormData(interp);
    const base = requestBody("png");
    const body = {
      run_id: base.run_id, checkpoint_id: base.checkpoint_id, use_ema: base.use_ema, format,
      seed_a: Number(data.get("seed_a")), seed_b: Number(data.get("seed_b")), steps: Number(data.get("steps")),
    };
    if (base.label) body.label = base.label;  // a picked label is kept along the strip
    const labelB = data.get("label_b");
    if (labelB) {
      body.label = base.label || JSON.parse(document.getElementById("g-label").dataset.labels)[0];
      body.label_b = labelB;
    }
    const what = labelB ? `${body.label} → ${labelB}, seed ${body.seed_a} → ${body.seed_b}` : `Seed ${body.seed_a} → ${body.seed_b}`;
    try {
      const response = await post("/generate/interpolate", body);
      const url = URL.createObjectURL(await response.blob());
      const box = document.getElementById("interpolation");
      box.innerHTML = "";
      box.appendChild(document.createElement("h3")).textContent = `${what} (${format.toUpperCase()})`;
      const img = document.createElement("img");
      img.src = url;
      img.id = `interpolation-${format}`;
      box.appendChild(img);
      if (format === "gif") {
        const a = document.createElement("a");
        a.className = "btn small"; a.href = url; a.download = `interp-${body.seed_a}-${body.seed_b}.gif`; a.textContent = "Download GIF";
        box.appendChild(document.createElement("div")).appendChild(a);
      }
    } catch (err) { showError(err); }
  }
  interp.addEventListener("submit", (e) => { e.preventDefault(); interpolate("png"); });
  document.getElementById("interpolate-gif").addEventListener("click", () => interpolate("gif"));
})();
