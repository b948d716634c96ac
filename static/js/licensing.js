// Licensing from the package page: the provider's wallet sends the offer the marketplace
// prepared; an end-user's wallet signs the licence agreement and, for a purchase, pays.
(function () {
  "use strict";
  const status = document.getElementById("licensing-status");

  function say(text) {
    if (status) status.textContent = text;
  }

  const call = (url, method, body) => window.nfvmWallet.call(url, method, body);

  // The wallet layer (static/vendor/nfvm-wallet.js) picks the wallet and checks the account is the
  // signed-in one and the chain is the marketplace's.
  async function wallet() {
    return window.nfvmWallet.account();
  }

  // Sends through the wallet and follows the transaction until it is mined and the marketplace's
  // indexer has read it.
  async function send(from, tx) {
    const hash = await window.nfvmWallet.sendTransaction(from, tx);
    say("Transaction " + hash + " sent; waiting for it to be mined…");
    const receipt = await window.nfvmWallet.waitForReceipt(hash);
    say("Mined in block " + parseInt(receipt.blockNumber, 16) + "; waiting for the marketplace to index it…");
    await window.nfvmWallet.waitForIndexed(receipt);
    return hash;
  }

  // The package page's licences part is swapped in place (htmx) after an offer or a purchase is
  // indexed; the handlers below are delegated, so they serve the swapped-in buttons and form too.
  // Every part of the page that shows licences (the package page's #licences, the NS page's decision)
  // is fetched again and swapped in place.
  function refreshLicences() {
    if (!window.htmx) return Promise.resolve();
    const parts = document.querySelectorAll("#licences, [data-refresh]");
    return Promise.all(
      Array.from(parts, (part) => window.htmx.ajax("GET", part.dataset.url, { target: "#" + part.id, swap: "outerHTML" })),
    );
  }

  function offersShown() {
    return new Set(Array.from(document.querySelectorAll("#licences tr[data-offer]"), (row) => row.dataset.offer));
  }

  // The offer form: a field that does not apply to the chosen kind is disabled and emptied, and comes
  // back with its default when it applies again.
  function fitOfferForm(form) {
    const kind = form.querySelector("[name=kind]").value;
    form.querySelectorAll("[data-applies]").forEach((field) => {
      const applies = field.dataset.applies.split(" ").includes(kind);
      field.hidden = !applies;
      field.querySelectorAll("input").forEach((input) => {
        input.disabled = !applies;
        if (!applies) {
          if (input.type === "checkbox") input.checked = false;
          else input.value = "";
        } else if (input.value === "" && input.dataset.default) {
          input.value = input.dataset.default;
        }
      });
    });
  }

  function showErrors(form, error) {
    form.querySelectorAll("[data-error-for]").forEach((slot) => (slot.textContent = ""));
    form.querySelectorAll("[aria-invalid]").forEach((input) => input.removeAttribute("aria-invalid"));
    const fields = (error && error.fields) || {};
    let placed = false;
    Object.entries(fields).forEach(([name, message]) => {
      const slot = form.querySelector(`[data-error-for="${name}"]`);
      const input = form.querySelector(`[name="${name}"]`);
      if (slot && input) {
        slot.textContent = message;
        input.setAttribute("aria-invalid", "true");
        placed = true;
      }
    });
    if (!placed) {
      form.querySelector('[data-error-for=""]').textContent = error && error.message ? error.message : String(error);
    }
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches("#offer-form [name=kind]")) fitOfferForm(event.target.form);
  });
  const initial = document.getElementById("offer-form");
  if (initial) fitOfferForm(initial);
  document.addEventListener("htmx:afterSwap", () => {
    const form = document.getElementById("offer-form");
    if (form) fitOfferForm(form);
  });

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (form.id !== "offer-form") return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    showErrors(form, null);
    try {
      const from = await wallet();
      const fields = Object.fromEntries(new FormData(form).entries());
      fields.transferable = form.querySelector("[name=transferable]").checked;
      const prepared = await call(form.dataset.url, "POST", fields);
      say("Please confirm the offer transaction in your wallet.");
      const before = offersShown();
      await send(from, prepared.transaction);
      await refreshLicences();
      const created = Array.from(offersShown()).filter((id) => !before.has(id));
      say(created.length ? "Offer #" + created.join(", #") + " created." : "Offer created.");
    } catch (error) {
      if (error && error.fields) showErrors(form, error);
      say("The offer failed: " + (error && error.message ? error.message : error));
      button.disabled = false;
    }
  });

  document.addEventListener("click", async (event) => {
    const button = event.target.closest(".licence-action");
    if (!button) return;
    // portal.js let this click through: it is the second, confirming one.
    button.disabled = true;
    const offer = button.dataset.offer;
    try {
      const from = await wallet();
      const { typed_data: typed } = await call(button.dataset.url, "GET");
      say("Please sign the licence agreement in your wallet.");
      const signature = await window.nfvmWallet.signTypedData(from, typed);
      const answer = await call(button.dataset.url, "POST", { typed_data: typed, signature, kind: button.dataset.kind });
      if (answer.transaction) {
        say("Please confirm the payment in your wallet.");
        await send(from, answer.transaction);
      } else {
        // A trial was relayed and mined before the answer came: follow the indexer up to the head.
        say("Trial activated on chain; waiting for the marketplace to index it…");
        await window.nfvmWallet.waitForIndexed({ blockNumber: await window.nfvmWallet.blockNumber() });
      }
      await refreshLicences();
      const held = document.querySelector(`#licences tr[data-offer="${offer}"] [data-held]`);
      say(
        (answer.transaction ? "Licence bought" : "Trial activated") +
          " under offer #" + offer + (held ? ": you hold licence #" + held.dataset.held + "." : "."),
      );
    } catch (error) {
      say("Failed: " + (error && error.message ? error.message : error));
      button.disabled = false;
    }
  });
  // "My licences": the holder's wallet sends the transferLicence transaction the marketplace prepared after
  // deciding the transfer; a refusal (not transferable, instances running, bad address) shows beside the form.
  document.querySelectorAll("form.licence-transfer").forEach((transfer) => {
    transfer.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = transfer.querySelector("button[type=submit]");
      const error = transfer.querySelector("[data-fact=transfer-error]");
      button.disabled = true;
      error.textContent = "";
      try {
        const from = await wallet();
        const to = transfer.querySelector("[name=to]").value.trim();
        const prepared = await call(transfer.dataset.url, "POST", { to });
        say("Allowed: " + prepared.decision.reason + ". Please confirm the transfer in your wallet.");
        await send(from, prepared.transaction);
        say("Licence transferred and indexed; reloading…");
        window.location.reload();
      } catch (failure) {
        error.textContent = "Not transferred: " + (failure && failure.message ? failure.message : failure);
        say("");
        button.disabled = false;
      }
    });
  });
  // "My offers": the provider's wallet sends the closeOffer transaction the marketplace prepared, then
  // the offer's state fragment polls itself (htmx, every 2 s) until the indexer shows it closed.
  document.querySelectorAll(".offer-close").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const from = await wallet();
        const prepared = await call(button.dataset.url, "POST");
        say("Please confirm closing offer #" + prepared.offer_id + " in your wallet.");
        await send(from, prepared.transaction);
        say("Closing offer #" + prepared.offer_id + " was sent; its state follows the chain.");
        const target = document.getElementById(button.dataset.target);
        if (target && window.htmx) {
          window.htmx.ajax("GET", button.dataset.stateUrl + "?sent=1", { target, swap: "outerHTML" });
        }
        button.parentElement.hidden = true;
      } catch (error) {
        say("Closing failed: " + (error && error.message ? error.message : error));
        button.disabled = false;
      }
    });
  });
})();
