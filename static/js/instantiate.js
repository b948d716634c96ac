// Starting instances and scaling them out open seats of the licence on chain, under the licensee's
// signed SeatOpening (LicenseManager counts the seats; the marketplace relays the opening). Before such
// a form is submitted, the wallet signs the opening the marketplace prepared and the signed typed data
// goes with the form. An unused trial is activated first, in the same click (the wallet signs its licence
// agreement, the marketplace relays it, the page waits for the indexer).
(function () {
  "use strict";

  const call = (url, method, body) => window.nfvmWallet.call(url, method, body);

  function hidden(form, name, value) {
    let input = form.querySelector("input[name=" + name + "]");
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.append(input);
    }
    input.value = value;
  }

  // Sign the seat opening `url` prepares, if any, into the form's hidden fields.
  async function signSeats(form, url, from, say) {
    const { typed_data: typed } = await call(url, "GET");
    if (!typed) return;
    // What the wallet is asked to sign must be a seat opening of this marketplace's LicenseManager, usable
    // for a short while only: one kept unused could still open a seat later (the licensee can void it with
    // cancelSeatOpenings).
    const hour = Math.floor(Date.now() / 1000) + 3600;
    if (typed.primaryType !== "SeatOpening" || Number(typed.message.deadline) > hour) {
      throw new Error("the marketplace asked to sign something other than a short-lived seat opening");
    }
    const count = typed.message.count;
    say("Please sign the opening of " + count + " seat" + (count > 1 ? "s" : "") + " of licence #" +
      typed.message.licenceId + " in your wallet.");
    hidden(form, "seat_typed_data", JSON.stringify(typed));
    hidden(form, "seat_signature", await window.nfvmWallet.signTypedData(from, typed));
  }

  // `status()` finds where to say what happens (htmx may have swapped it since the page loaded).
  function guard(form, status, button, prepare) {
    let ready = false;
    const say = (text) => { const where = status(); if (where) where.textContent = text; };
    form.addEventListener("submit", async (event) => {
      if (ready) return;
      event.preventDefault();
      if (button) button.disabled = true;
      try {
        const from = await window.nfvmWallet.account();
        await prepare(from, say);
        say("Submitting…");
        ready = true;
        form.submit();
      } catch (error) {
        say("Not done: " + (error && error.message ? error.message : error));
        if (button) button.disabled = false;
      }
    });
  }

  const form = document.getElementById("instantiate-form");
  if (form && form.dataset.seatUrl) {
    guard(form, () => document.getElementById("instantiate-status"), form.querySelector("button[type=submit]"),
      async (from, say) => {
        if (form.dataset.trialUrl) {
          const { typed_data: typed } = await call(form.dataset.trialUrl, "GET");
          say("Your first instance starts the trial of offer #" + form.dataset.trialOffer + ": please sign its licence agreement in your wallet.");
          const signature = await window.nfvmWallet.signTypedData(from, typed);
          say("Activating the trial on chain…");
          await call(form.dataset.trialUrl, "POST", { typed_data: typed, signature, kind: 1 });
          say("Trial active; waiting for the marketplace to index it…");
          await window.nfvmWallet.waitForIndexed({ blockNumber: await window.nfvmWallet.blockNumber() });
        }
        await signSeats(form, form.dataset.seatUrl, from, say);
      });
  }

  document.querySelectorAll("form.scale-form[data-seat-url]").forEach((scale) => {
    const units = scale.querySelector("input[name=units]");
    guard(scale, () => scale.querySelector("[data-fact=scale-decision]"), scale.querySelector("button[type=submit]"),
      (from, say) => signSeats(scale, scale.dataset.seatUrl + "?units=" + encodeURIComponent(units.value), from, say));
  });
})();
