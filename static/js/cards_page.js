// The cards page calls POST /cards (json for the cards shown, pdf for the sheet) and shows what it returns.
(function () {
  "use strict";
  const form = document.getElementById("cards-form");
  if (!form) return;
  const errorBox = document.getElementById("cards-error");
  const deck = document.getElementById("card-deck");
  const meta = document.getElementById("cards-meta");
  const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const MAX_SEED = 2147483647;
  let last = null; // the seeds of the cards on screen, so one of them can be re-rolled alone

  function randomSeed() { return Math.floor(Math.random() * (MAX_SEED - 9)); }

  function requestBody(format, seeds) {
    const data = new FormData(form);
    const body = { run_id: Number(data.get("run_id")), n: Number(data.get("n") || 1), format };
    if (data.get("checkpoint_id")) body.checkpoint_id = Number(data.get("checkpoint_id"));
    if (data.get("label")) body.label = data.get("label");
    const seed = seeds ? seeds.seed : data.get("seed");
    const textSeed = seeds ? seeds.text_seed : data.get("text_seed");
    if (seed !== "" && seed !== null) body.seed = Number(seed);
    if (textSeed !== "" && textSeed !== null) body.text_seed = Number(textSeed);
    return body;
  }

  async function post(body) {
    const response = await fetch("/cards", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        const detail = (await response.json()).detail;
        message = Array.isArray(detail) ? detail.map((d) => `${d.loc.slice(-1)[0]}: ${d.msg}`).join("; ") : detail;
      } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response;
  }

  function showError(err) { errorBox.textContent = err ? err.message : ""; errorBox.hidden = !err; }

  function figure(card, runId) {
    const fig = document.createElement("figure");
    const img = document.createElement("img");
    img.src = `data:image/png;base64,${card.image}`;
    img.alt = `${card.name}, HP ${card.hp}, ${card.type} card`;
    const caption = document.createElement("figcaption");
    const what = document.createElement("span");
    what.textContent = `seed ${card.seed} · text ${card.text_seed}`;
    const link = document.createElement("a");
    link.href = img.src;
    link.download = `card-run${runId}-seed${card.seed}-text${card.text_seed}.png`;
    link.textContent = "PNG";
    caption.append(what, link);
    fig.append(img, caption);
    return fig;
  }

  async function show(seeds) {
    const button = document.getElementById("cards-btn");
    button.disabled = true;
    showError(null);
    try {
      const body = requestBody("json", seeds);
      const data = await (await post(body)).json();
      deck.replaceChildren(...data.cards.map((card) => figure(card, body.run_id)));
      last = { seed: data.seed, text_seed: data.text_seed };
      meta.textContent = `art seed ${data.seed} · text seed ${data.text_seed} · checkpoint ${data.checkpoint_id} · ${data.cards[0].source}`;
      form.querySelector("[name=seed]").value = data.seed;
      form.querySelector("[name=text_seed]").value = data.text_seed;
      document.getElementById("reroll-text").disabled = false;
      document.getElementById("reroll-art").disabled = false;
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); show(null); });
  document.getElementById("reroll-text").addEventListener("click", () => show({ seed: last.seed, text_seed: randomSeed() }));
  document.getElementById("reroll-art").addEventListener("click", () => show({ seed: randomSeed(), text_seed: last.text_seed }));
  document.getElementById("download-pdf").addEventListener("click", async () => {
    showError(null);
    try {
      const response = await post(requestBody("pdf", null));
      const a = document.createElement("a");
      a.href = URL.createObjectURL(await response.blob());
      a.download = `cards-seed${response.headers.get("X-Seed")}.pdf`;
      document.body.appendChild(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    } catch (err) { showError(err); }
  });
})();
