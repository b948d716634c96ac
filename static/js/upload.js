// Drag-and-drop upload with a progress bar. The form works without this script (a plain multipart
// POST); with it, the archive is sent in the background, the bar follows the bytes, and the
// server's validation report (the "report" fragment of templates/dportal/upload.html) appears in place.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("id_package");
  const chosen = document.getElementById("upload-chosen");
  const progress = document.getElementById("upload-progress");
  const bar = document.getElementById("upload-bar");
  const phase = document.getElementById("upload-phase");
  const report = document.getElementById("upload-report");
  const button = document.getElementById("upload-button");

  document.getElementById("drop-hint").hidden = false;
  zone.classList.add("active");

  function size(bytes) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return (unit ? value.toFixed(1) : value) + " " + units[unit];
  }

  function show() {
    const file = input.files[0];
    chosen.textContent = file ? `${file.name} (${size(file.size)})` : "";
  }

  ["dragenter", "dragover"].forEach((name) =>
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    }),
  );
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (!event.dataTransfer.files.length) return;
    if (event.dataTransfer.files.length > 1) {
      chosen.textContent = "Drop one archive at a time.";
      return;
    }
    input.files = event.dataTransfer.files;
    show();
  });
  input.addEventListener("change", show);

  function done(status, html) {
    button.disabled = false;
    progress.hidden = true;
    report.innerHTML = html; // the server's fragment: every user-supplied text in it is escaped
    if (status >= 200 && status < 300) form.reset();
    show();
    report.focus();
  }

  form.addEventListener("submit", (event) => {
    if (!input.files.length) return; // the browser's own "required" message
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("HX-Request", "true");
    request.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      bar.value = Math.round((e.loaded / e.total) * 100);
      phase.textContent = `Uploading… ${size(e.loaded)} of ${size(e.total)}`;
    });
    request.upload.addEventListener("load", () => {
      bar.removeAttribute("value"); // indeterminate while the server validates
      phase.textContent = "Validating: archive safety, manifest, descriptors…";
    });
    request.addEventListener("load", () => done(request.status, request.responseText));
    request.addEventListener("error", () =>
      done(0, '<p class="errors" role="alert">The upload did not reach the server; check the connection and retry.</p>'),
    );
    report.replaceChildren();
    bar.value = 0;
    phase.textContent = "Uploading…";
    progress.hidden = false;
    button.disabled = true;
    request.send(new FormData(form));
  });
})();
