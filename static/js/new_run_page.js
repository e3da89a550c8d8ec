// The new-run form: a suggested run name (blank, or a clone's "… (copy)") follows the dataset, as the server
// would name the run (crud.runs: "<dataset> · <preset>"); a name the user typed is kept. A preset change
// re-renders the form on the server (pages_runs.new_run_page), which does the same. Event delegation: htmx
// replaces the whole form on a preset change or a refused submit.
(function () {
  "use strict";
  function defaultName(form) {
    const dataset = form.querySelector("#f-dataset");
    const option = dataset && dataset.selectedOptions[0];
    const preset = form.querySelector("#f-preset")?.value || "custom";
    return option ? `${option.dataset.name} · ${preset}` : "";
  }
  document.addEventListener("change", (event) => {
    const form = event.target.closest("#run-form");
    if (!form || event.target.id !== "f-dataset") return;  // a preset change re-renders the form
    const name = form.querySelector("#f-name");
    const remembered = form.querySelector("#f-suggested");
    const suggested = defaultName(form);
    name.placeholder = suggested || name.placeholder;
    if (name.value !== "" && name.value === remembered.value) {
      name.value = suggested;  // e.g. a clone's "(copy)" name once its dataset changed
      remembered.value = suggested;
    }
  });
})();
