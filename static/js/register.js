// On-chain registration from the package page: the wallet signs EIP-712 typed data that the
// server prepared for this package and uploader; the server relays or batches the signature.
(function () {
  "use strict";
  const root = document.getElementById("register");
  if (!root) return;
  const button = document.getElementById("register-button");
  const status = document.getElementById("register-status");
  const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  const headers = { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.split("=")[1] : "" };

  async function call(method, body) {
    const response = await fetch(root.dataset.url, {
      method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

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
