// Instantiating a network service whose package has a trial the user has not used: the trial is
// activated first, in the same click (the wallet signs the licence agreement, the marketplace relays
// the trial transaction, the page waits for the indexer), then the instantiation form is submitted.
(function () {
  "use strict";
  const form = document.getElementById("instantiate-form");
  if (!form || !form.dataset.trialUrl) return;
  const status = document.getElementById("instantiate-status");
  const button = form.querySelector("button[type=submit]");
  let activated = false;

  function say(text) {
    status.textContent = text;
  }

  const call = (method, body) => window.nfvmWallet.call(form.dataset.trialUrl, method, body);

  form.addEventListener("submit", async (event) => {
    if (activated) return;
    event.preventDefault();
    button.disabled = true;
    try {
      const from = await window.nfvmWallet.account();
      const { typed_data: typed } = await call("GET");
      say("Your first instance starts the trial of offer #" + form.dataset.trialOffer + ": please sign its licence agreement in your wallet.");
      const signature = await window.nfvmWallet.signTypedData(from, typed);
      say("Activating the trial on chain…");
      await call("POST", { typed_data: typed, signature, kind: 1 });
      say("Trial active; waiting for the marketplace to index it…");
      await window.nfvmWallet.waitForIndexed({ blockNumber: await window.nfvmWallet.blockNumber() });
      say("Instantiating…");
      activated = true;
      form.submit();
    } catch (error) {
      say("Not instantiated: " + (error && error.message ? error.message : error));
      button.disabled = false;
    }
  });
})();
