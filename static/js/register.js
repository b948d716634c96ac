// On-chain registration from the package page: the wallet signs EIP-712 typed data that the
// server prepared for this package and uploader; the server relays or batches the signature.
(function () {
  "use strict";
  const root = document.getElementById("register");
  if (!root) return;
  const button = document.getElementById("register-button");
  const status = document.getElementById("register-status");

  const call = (method, body) => window.nfvmWallet.call(root.dataset.url, method, body);

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const address = await window.nfvmWallet.account();
      const { typed_data: typed } = await call("GET");
      status.textContent = "Please sign the registration in your wallet.";
      const signature = await window.nfvmWallet.signTypedData(address, typed);
      const mode = (root.querySelector("input[name=register-mode]:checked") || {}).value || "relay";
      await call("POST", { typed_data: typed, signature, mode });
      status.textContent = "Submitted; waiting for the chain to confirm.";
      window.location.reload();
    } catch (error) {
      status.textContent = "Registration failed: " + (error && error.message ? error.message : error);
      button.disabled = false;
    }
  });
})();
