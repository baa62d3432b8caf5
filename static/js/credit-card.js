/* Credit: save a customer's card with Stripe Elements.
 * The SetupIntent is created by our API (POST .../credit/setup-intent/, session + CSRF);
 * the card details go straight from the browser to Stripe, never through our server.
 * The card shows as "on file" once Stripe's setup_intent.succeeded webhook arrives. */
(function () {
  "use strict";
  var root = document.getElementById("credit-card-setup");
  if (!root || typeof window.Stripe !== "function") { return; }
  var form = document.getElementById("credit-card-form");
  var start = document.getElementById("credit-card-start");
  var submit = document.getElementById("credit-card-submit");
  var message = document.getElementById("credit-card-message");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var stripe = null, card = null, clientSecret = null;

  function say(text, isError) {
    message.textContent = text;
    message.className = isError ? "field-error" : "muted";
  }

  start.addEventListener("click", function () {
    start.disabled = true;
    say("Preparing the secure card form…", false);
    fetch(root.dataset.setupUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ customer_id: root.dataset.customerId })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (!result.ok) {
        var error = result.body && result.body.error;
        throw new Error(error && error.message ? error.message : "Could not start the card setup.");
      }
      clientSecret = result.body.client_secret;
      stripe = window.Stripe(result.body.publishable_key);
      card = stripe.elements().create("card");
      card.mount("#credit-card-element");
      start.hidden = true;
      submit.hidden = false;
      say("Enter the card details, then save.", false);
    }).catch(function (err) {
      start.disabled = false;
      say(err.message, true);
    });
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!stripe || !card) { return; }
    submit.disabled = true;
    say("Saving the card…", false);
    stripe.confirmCardSetup(clientSecret, { payment_method: { card: card } }).then(function (result) {
      if (result.error) {
        submit.disabled = false;
        say(result.error.message || "The card was not saved.", true);
        return;
      }
      card.unmount();
      submit.hidden = true;
      say("Card saved. It shows as on file once Stripe confirms it (reload in a moment).", false);
    });
  });
})();
