// Sign-In with Ethereum from the wallet chosen in the wallet layer (static/vendor/nfvm-wallet.js:
// EIP-6963 discovery, an injected EIP-1193 wallet, or the labelled development wallet in embedded
// mode). The server writes the EIP-4361 message; the wallet signs it.
(function () {
  "use strict";
  const root = document.getElementById("signin");
  if (!root) return;
  const button = document.getElementById("signin-button");
  const status = document.getElementById("signin-status");

  function ready() {
    const wallet = window.nfvmWallet.chosen();
    document.getElementById("no-wallet").hidden = Boolean(wallet);
    document.getElementById("dev-wallet-note").hidden = !window.nfvmWallet.isDevelopment();
    button.disabled = !wallet;
  }

  function say(text) {
    status.textContent = text;
  }

  const post = (url, body) => window.nfvmWallet.call(url, "POST", body);

  button.addEventListener("click", async () => {
    if (!window.nfvmWallet.chosen()) return ready();
    button.disabled = true;
    try {
      say("Asking your wallet for your address…");
      const address = await window.nfvmWallet.account({ matchSession: false });
      const { message } = await post(root.dataset.messageUrl, { address });
      say("Please sign the sign-in message in your wallet.");
      const signature = await window.nfvmWallet.signMessage(address, message);
      const done = await post(root.dataset.verifyUrl, { message, signature, next: root.dataset.next });
      say("Signed in as " + done.address + ".");
      window.location.assign(done.next);
    } catch (error) {
      say("Sign-in failed: " + (error && error.message ? error.message : error));
      button.disabled = false;
    }
  });

  // Wallets announce themselves after this script runs too; the picker's changes land here.
  window.nfvmWallet.onChange(ready);
  ready();
})();
