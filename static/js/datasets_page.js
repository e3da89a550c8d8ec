// The upload form: how much of the upload has been sent (htmx's htmx:xhr:progress events), then how long the
// server has been importing it; the result (with the image count) replaces both when the answer comes.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const box = document.getElementById("upload-progress");
  const bar = box.querySelector("progress");
  const text = document.getElementById("upload-progress-text");
  const input = document.getElementById("dataset-file");
  let sentAt = null;
  let timer = null;
  const mb = (bytes) => (bytes / (1024 * 1024)).toFixed(1);

  function importing(total) {
    sentAt = Date.now();
    bar.removeAttribute("value");  // indeterminate: the server does not report its own progress
    const files = input.files.length;
    const what = files === 1 ? input.files[0].name : `${files} files`;
    const tick = () => {
      const seconds = Math.round((Date.now() - sentAt) / 1000);
      text.textContent = `Uploaded ${what} (${mb(total)} MB). The server is importing it: decoding, ` +
        `checking and de-duplicating the images… ${seconds} s`;
    };
    tick();
    timer = setInterval(tick, 1000);
  }

  form.addEventListener("htmx:beforeRequest", () => {
    sentAt = null;
    bar.value = 0;
    text.textContent = "Uploading…";
    box.hidden = false;
  });
  // Fired for the upload and then for the (small) answer; after the upload is complete only the timer runs.
  form.addEventListener("htmx:xhr:progress", (event) => {
    const { loaded, total, lengthComputable } = event.detail;
    if (sentAt !== null || !lengthComputable || !total) return;
    if (loaded >= total) { importing(total); return; }
    const percent = Math.floor((100 * loaded) / total);
    bar.value = percent;
    text.textContent = `Uploading: ${percent}% (${mb(loaded)} of ${mb(total)} MB)`;
  });
  form.addEventListener("htmx:afterRequest", () => {
    clearInterval(timer);
    box.hidden = true;
  });
})();
