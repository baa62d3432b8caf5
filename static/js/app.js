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
