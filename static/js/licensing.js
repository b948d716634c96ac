// Licensing from the package page: the provider's wallet sends the offer the marketplace
// prepared; an end-user's wallet signs the licence agreement and, for a purchase, pays.
(function () {
  "use strict";
  const status = document.getElementById("licensing-status");
  const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  const headers = { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.split("=")[1] : "" };

  function say(text) {
    if (status) status.textContent = text;
  }

  async function call(url, method, body) {
    const response = await fetch(url, {
      method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  async function wallet() {
    if (!window.ethereum) throw new Error("no Ethereum wallet found in this browser");
    const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
    return address;
  }

  async function send(from, tx) {
    const request = { from, to: tx.to, data: tx.data, value: tx.value || "0x0" };
    return window.ethereum.request({ method: "eth_sendTransaction", params: [request] });
  }

  const form = document.getElementById("offer-form");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const from = await wallet();
        const fields = Object.fromEntries(new FormData(form).entries());
        fields.transferable = form.querySelector("[name=transferable]").checked;
        const prepared = await call(form.dataset.url, "POST", fields);
        say("Please confirm the offer transaction in your wallet.");
        await send(from, prepared.transaction);
        say("Offer sent; it appears here once the chain confirms it.");
        setTimeout(() => window.location.reload(), 1500);
      } catch (error) {
        say("The offer failed: " + (error && error.message ? error.message : error));
      }
    });
  }

  document.querySelectorAll(".licence-action").forEach((button) => {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const from = await wallet();
        const { typed_data: typed } = await call(button.dataset.url, "GET");
        say("Please sign the licence agreement in your wallet.");
        const signature = await window.ethereum.request({
          method: "eth_signTypedData_v4", params: [from, JSON.stringify(typed)],
        });
        const answer = await call(button.dataset.url, "POST", { typed_data: typed, signature, kind: button.dataset.kind });
        if (answer.transaction) {
          say("Please confirm the payment in your wallet.");
          await send(from, answer.transaction);
        }
        say("Licence acquired; it counts once the chain confirms it.");
        setTimeout(() => window.location.reload(), 1500);
      } catch (error) {
        say("Failed: " + (error && error.message ? error.message : error));
        button.disabled = false;
      }
    });
  });
})();
