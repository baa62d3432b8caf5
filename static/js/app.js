/* Behaviour every page shares, kept out of the markup: the Content-Security-Policy
 * allows no inline scripts or event handlers (onclick=, onchange=, hx-on), so what
 * used to be written there is declared with data attributes and handled here. */
(function () {
  "use strict";

  // <select data-autosubmit>: choosing an option submits its form (the team switcher).
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select[data-autosubmit]") && select.form) {
      select.form.submit();
    }
  });

  // <button data-confirm="Question?">: ask before the form is submitted.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  // <form data-confirm-message="…">: ask before the form is submitted; only when its field
  // data-confirm-field holds data-confirm-value (closing an account), or only when its
  // checkbox data-confirm-unless-checked is not ticked (a job's real run, not its dry run).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-confirm-message]")) { return; }
    var name = form.getAttribute("data-confirm-field");
    var unless = form.getAttribute("data-confirm-unless-checked");
    var ask = true;
    if (name) {
      var field = form.elements[name];
      ask = Boolean(field) && field.value === form.getAttribute("data-confirm-value");
    } else if (unless) {
      var box = form.elements[unless];
      ask = !(box && box.checked);
    }
    if (ask && !window.confirm(form.getAttribute("data-confirm-message"))) {
      event.preventDefault();
    }
  });

  // Back/Forward to a page whose list htmx swapped in: the snapshot holds the rows of that
  // URL, but inputs show their value attribute from the first render. Put the URL's query
  // back into the search forms (hx-push-url) so that the box matches the rows.
  document.addEventListener("htmx:historyRestore", function () {
    var params = new URLSearchParams(window.location.search);
    document.querySelectorAll("form[role=search]").forEach(function (form) {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!field.name || field.type === "submit" || field.type === "button") { return; }
        var value = params.get(field.name) || "";
        if (field.type === "checkbox" || field.type === "radio") {
          field.checked = params.getAll(field.name).indexOf(field.value) !== -1;
        } else {
          field.value = value;
        }
      });
    });
  });

  // A table wider than the screen scrolls inside itself (app.css, phone width): make it
  // focusable so that keyboard users can scroll it too (WCAG 2.1.1; axe: scrollable-region-focusable).
  function focusWideTables() {
    document.querySelectorAll(".table").forEach(function (table) {
      var wide = table.scrollWidth > table.clientWidth + 1;
      if (wide && !table.hasAttribute("tabindex")) {
        table.setAttribute("tabindex", "0");
        table.setAttribute("data-scroll-focus", "");
      } else if (!wide && table.hasAttribute("data-scroll-focus")) {
        table.removeAttribute("tabindex");
        table.removeAttribute("data-scroll-focus");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", focusWideTables);
  document.addEventListener("htmx:afterSettle", focusWideTables);
  window.addEventListener("resize", focusWideTables);

  // htmx swaps only 2xx answers; a target inside data-swap-statuses="429 …" swaps those too.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.target;
    var holder = target && target.closest && target.closest("[data-swap-statuses]");
    if (!holder) { return; }
    var statuses = holder.getAttribute("data-swap-statuses").split(/[\s,]+/);
    if (statuses.indexOf(String(event.detail.xhr.status)) !== -1) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
