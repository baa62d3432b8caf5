/* Knowledge base editor: attachments and unsaved changes.
 *
 * Files dropped on [data-kb-dropzone], or chosen in its form and sent with its
 * Upload button, are posted to the upload API (/api/help/uploads/) with the
 * session's CSRF token, without leaving the page: the title and content being
 * edited stay as they are. Each uploaded file is listed and a Markdown link to
 * it is inserted into the content textarea. Without JavaScript the plain
 * <form> inside the drop zone still works (it reloads the editor).
 *
 * The article form ([data-kb-unsaved]) warns before the page is left with
 * changes that were not saved (beforeunload); saving it does not warn.
 */
(function () {
  "use strict";

  function csrfToken(zone) {
    var input = zone.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function fileUrl(upload) {
    return upload.url || "/api/help/uploads/" + upload.id + "/download/";
  }

  function insertAtCursor(textarea, text) {
    if (!textarea) return;
    var start = textarea.selectionStart || textarea.value.length;
    var end = textarea.selectionEnd || start;
    var before = textarea.value.slice(0, start);
    // Its own paragraph: a blank line before the link unless there is one already.
    var spacer = !before || before.endsWith("\n\n") ? "" : before.endsWith("\n") ? "\n" : "\n\n";
    textarea.value = before + spacer + text + "\n" + textarea.value.slice(end);
    // Refresh the live preview (htmx listens for "input" on the textarea).
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
    textarea.dispatchEvent(new CustomEvent("kb:changed", { bubbles: true }));
  }

  function markdownFor(upload) {
    var name = upload.original_name.replace(/[\[\]]/g, "");
    var link = "[" + name + "](" + fileUrl(upload) + ")";
    return /^image\//.test(upload.content_type) ? "!" + link : link;
  }

  // The processing (thumbnail, text) runs in a queued task after the upload: the
  // new item says so and asks again a few times, then shows the thumbnail and
  // the outcome as the page's own list does (_upload_processing.html).
  var PROCESSING_LABELS = { pending: "Processing…", done: "Processed", failed: "Processing failed", skipped: "Not processed" };
  var PROCESSING_BADGES = { pending: "badge", done: "badge ok", failed: "badge danger", skipped: "badge" };
  var PROCESSING_DELAYS_MS = [1000, 2000, 3000, 5000, 8000, 13000];

  function showProcessing(item, upload) {
    var box = item.querySelector(".kb-processing");
    if (!box) {
      box = document.createElement("div");
      box.className = "kb-processing";
      box.id = "processing-" + upload.id;
      item.appendChild(box);
    }
    box.textContent = "";
    var badge = document.createElement("span");
    badge.className = PROCESSING_BADGES[upload.processing_status] || "badge";
    badge.textContent = PROCESSING_LABELS[upload.processing_status] || upload.processing_status;
    box.appendChild(badge);
    if (upload.processing_error) {
      var reason = document.createElement("small");
      reason.className = "kb-processing-reason" + (upload.processing_status === "failed" ? "" : " muted");
      reason.textContent = upload.processing_error;
      box.appendChild(document.createTextNode(" "));
      box.appendChild(reason);
    }
    if (upload.extracted_text) {
      var details = document.createElement("details");
      details.className = "kb-extracted";
      var summary = document.createElement("summary");
      summary.textContent = "Extracted text (" + upload.extracted_text.length + " characters)";
      var text = document.createElement("pre");
      text.textContent = upload.extracted_text.slice(0, 5000);
      details.appendChild(summary);
      details.appendChild(text);
      box.appendChild(details);
    }
    if (upload.thumbnail_url && !item.querySelector("img.kb-thumb")) {
      var image = document.createElement("img");
      image.className = "kb-thumb";
      image.alt = "";
      image.src = upload.thumbnail_url;
      item.insertBefore(image, item.firstChild);
    }
  }

  function watchProcessing(item, upload, detailUrl, attempt) {
    if (upload.processing_status !== "pending" || attempt >= PROCESSING_DELAYS_MS.length) return;
    window.setTimeout(function () {
      fetch(detailUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (fresh) {
          if (!fresh) return;
          showProcessing(item, fresh);
          watchProcessing(item, fresh, detailUrl, attempt + 1);
        })
        .catch(function () {});
    }, PROCESSING_DELAYS_MS[attempt]);
  }

  function addToList(list, upload, uploadUrl) {
    if (!list) return;
    var empty = list.querySelector(".empty");
    if (empty) empty.remove();
    var item = document.createElement("li");
    item.id = "attachment-" + upload.id;
    var anchor = document.createElement("a");
    anchor.href = fileUrl(upload);
    anchor.textContent = upload.original_name; // textContent: never HTML
    var badge = document.createElement("span");
    badge.className = "badge " + (upload.store === "public" ? "info" : "muted");
    badge.textContent = upload.store;
    item.appendChild(anchor);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(badge);
    list.appendChild(item);
    if (upload.processing_status) {
      showProcessing(item, upload);
      watchProcessing(item, upload, uploadUrl.replace(/\/?$/, "/") + upload.id + "/", 0);
    }
  }

  function setup(zone) {
    var status = zone.querySelector("[data-kb-status]");
    var list = document.getElementById(zone.dataset.list);
    var textarea = document.getElementById(zone.dataset.textarea);
    var contextSelect = zone.querySelector("select[name=context]");

    function say(text, isError) {
      if (!status) return;
      status.textContent = text;
      status.className = isError ? "field-error" : "muted";
    }

    function upload(file) {
      var data = new FormData();
      data.append("file", file);
      data.append("team_id", zone.dataset.teamId);
      if (zone.dataset.articleId) data.append("article_id", zone.dataset.articleId);
      data.append("context", contextSelect ? contextSelect.value : "kb-article");
      say("Uploading " + file.name + "…", false);
      return fetch(zone.dataset.uploadUrl, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(zone), Accept: "application/json" },
      })
        .then(function (response) {
          return response.json().then(
            function (body) {
              return { ok: response.ok, body: body };
            },
            function () {
              // Not JSON (a proxy's error page): say what happened rather than "network error".
              return { ok: false, body: { error: { message: "Upload failed (HTTP " + response.status + ")." } } };
            }
          );
        })
        .then(function (result) {
          if (!result.ok) {
            var message = (result.body.error && result.body.error.message) || "Upload failed.";
            say(file.name + ": " + message, true);
            return;
          }
          addToList(list, result.body, zone.dataset.uploadUrl);
          insertAtCursor(textarea, markdownFor(result.body));
          say("Uploaded " + file.name + ".", false);
        })
        .catch(function () {
          say(file.name + ": upload failed (network error).", true);
        });
    }

    function uploadAll(files) {
      return files.reduce(function (chain, file) {
        return chain.then(function () {
          return upload(file);
        });
      }, Promise.resolve());
    }

    // The Upload button: the same request as a drop, so the page (and the
    // unsaved title and content) stays.
    var form = zone.querySelector("form");
    var fileInput = zone.querySelector("input[type=file]");
    if (form && fileInput) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var files = Array.prototype.slice.call(fileInput.files || []);
        if (!files.length) {
          say("Choose a file first.", true);
          fileInput.focus();
          return;
        }
        uploadAll(files).then(function () {
          fileInput.value = "";
        });
      });
    }

    // Visibility follows the article's "public" box until the author picks one.
    var publicBox = document.getElementById(zone.dataset.publicCheckbox || "");
    if (contextSelect && publicBox) {
      var chosen = false;
      contextSelect.addEventListener("change", function () {
        chosen = true;
      });
      publicBox.addEventListener("change", function () {
        if (!chosen) contextSelect.value = publicBox.checked ? "kb-article" : "user-upload";
      });
    }

    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", function () {
      zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      uploadAll(Array.prototype.slice.call(event.dataTransfer.files || []));
    });
  }

  function warnOnUnsavedChanges(form) {
    var dirty = false;
    function markDirty(event) {
      if (event.isTrusted) dirty = true; // a person typed; not our own preview refresh
    }
    form.addEventListener("input", markDirty);
    form.addEventListener("change", markDirty);
    // An inserted attachment link is an unsaved change too.
    form.addEventListener("kb:changed", function () {
      dirty = true;
    });
    form.addEventListener("submit", function () {
      dirty = false; // saving is leaving on purpose
    });
    window.addEventListener("beforeunload", function (event) {
      if (!dirty) return;
      event.preventDefault();
      event.returnValue = ""; // older browsers need a value to show the prompt
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-kb-dropzone]").forEach(setup);
    document.querySelectorAll("form[data-kb-unsaved]").forEach(warnOnUnsavedChanges);
  });
})();
