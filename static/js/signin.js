// Sign-In with Ethereum from a browser wallet (EIP-1193; the first wallet announced through
// EIP-6963 when several are installed). The server writes the EIP-4361 message; the wallet signs it.
(function () {
  "use strict";
  const root = document.getElementById("signin");
  if (!root) return;
  const button = document.getElementById("signin-button");
  const status = document.getElementById("signin-status");
  const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  const headers = { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.split("=")[1] : "" };
  const announced = [];

  window.addEventListener("eip6963:announceProvider", (event) => {
    announced.push(event.detail);
    ready();
  });
  window.dispatchEvent(new Event("eip6963:requestProvider"));

  function provider() {
    if (announced.length) return announced[0].provider;
    return window.ethereum || null;
  }

  function ready() {
    const wallet = provider();
    document.getElementById("no-wallet").hidden = Boolean(wallet);
    button.disabled = !wallet;
  }

  function say(text) {
    status.textContent = text;
  }

  async function post(url, body) {
    const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin" });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  function hex(text) {
    return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  button.addEventListener("click", async () => {
    const wallet = provider();
    if (!wallet) return ready();
    button.disabled = true;
    try {
      say("Asking your wallet for your address…");
      const [address] = await wallet.request({ method: "eth_requestAccounts" });
      const { message } = await post(root.dataset.messageUrl, { address });
      say("Please sign the sign-in message in your wallet.");
      const signature = await wallet.request({ method: "personal_sign", params: [hex(message), address] });
      const done = await post(root.dataset.verifyUrl, { message, signature, next: root.dataset.next });
      say("Signed in as " + done.address + ".");
      window.location.assign(done.next);
    } catch (error) {
      say("Sign-in failed: " + (error && error.message ? error.message : error));
      button.disabled = false;
    }
  });

  // A wallet injected after this script ran (EIP-1193 without EIP-6963) is picked up here.
  window.addEventListener("load", ready);
  ready();
})();
