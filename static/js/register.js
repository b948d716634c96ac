// On-chain registration from the package page: the wallet signs EIP-712 typed data that the
// server prepared for this package and uploader; the server relays or batches the signature.
// While the package's line has no owner, the wallet also signs the line's claim: the server commits
// to it now and reveals it once the commitment is old enough, then relays the registration.
(function () {
  "use strict";
  const root = document.getElementById("register");
  if (!root) return;
  // The proof part (and this form in it) is replaced in place; the status line above it stays.
  const button = document.getElementById("register-button");
  const status = document.getElementById("register-status");

  const call = (method, body) => window.nfvmWallet.call(root.dataset.url, method, body);

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const address = await window.nfvmWallet.account();
      const prepared = await call("GET");
      const body = { typed_data: prepared.typed_data };
      if (prepared.claim) {
        status.textContent = "Please sign the claim of the line " + prepared.line.name + " in your wallet.";
        body.claim_typed_data = prepared.claim;
        body.claim_signature = await window.nfvmWallet.signTypedData(address, prepared.claim);
      }
      status.textContent = "Please sign the registration in your wallet.";
      body.signature = await window.nfvmWallet.signTypedData(address, prepared.typed_data);
      body.mode = (root.querySelector("input[name=register-mode]:checked") || {}).value || "relay";
      await call("POST", body);
      // The proof part follows the chain in place (it polls itself while the registration is pending),
      // and once registered swaps the badge and the licences part, with the offer form, beside it.
      const message = prepared.claim
        ? "Submitted; the line's claim is revealed in about a minute, then the registration is sent."
        : "Submitted; waiting for the chain to confirm.";
      await window.htmx.ajax("GET", root.dataset.proofUrl + "?pending=1", { target: "#proof", swap: "outerHTML" });
      const notice = document.getElementById("registration-status");
      if (notice) notice.textContent = message;
    } catch (error) {
      status.textContent = "Registration failed: " + (error && error.message ? error.message : error);
      button.disabled = false;
    }
  });
})();
