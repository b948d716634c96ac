"""A test wallet for the browser: an injected EIP-1193 provider (announced through EIP-6963 too)
whose signing is done in the test process with an anvil key, and whose other calls go to anvil."""

from __future__ import annotations

import json
from typing import Any

from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from ledger.client import ChainClient

INIT_SCRIPT = """
(() => {
  const address = %(address)s;
  const provider = {
    isNfvmTestWallet: true,
    async request({ method, params }) {
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [address];
      if (method === "personal_sign") return await window.__nfvmTestWalletSign(params[0], params[1]);
      if (method === "eth_signTypedData_v4") return await window.__nfvmTestWalletSignTyped(params[0], params[1]);
      if (method === "eth_sendTransaction") return await window.__nfvmTestWalletSend(JSON.stringify(params[0]));
      return await window.__nfvmTestWalletRpc(method, JSON.stringify(params || []));
    },
    on() {}, removeListener() {},
  };
  window.ethereum = provider;
  const info = { uuid: "00000000-0000-4000-8000-000000000001", name: "Test wallet", icon: "data:,", rdns: "test.nfvm" };
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider",
    { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
"""


def install(page: Any, account: LocalAccount, chain: ChainClient) -> None:
    def sign(message_hex: str, signer: str) -> str:
        assert signer.lower() == account.address.lower(), f"asked to sign for {signer}"
        message = bytes.fromhex(message_hex.removeprefix("0x"))
        return str(account.sign_message(encode_defunct(primitive=message)).signature.to_0x_hex())

    def rpc(method: str, params_json: str) -> Any:
        response = chain.w3.provider.make_request(method, json.loads(params_json))  # type: ignore[arg-type]
        if "error" in response:
            raise RuntimeError(response["error"])
        return response["result"]

    def sign_typed(signer: str, payload: str) -> str:
        assert signer.lower() == account.address.lower(), f"asked to sign for {signer}"
        return str(account.sign_typed_data(full_message=json.loads(payload)).signature.to_0x_hex())

    def send(tx_json: str) -> str:
        tx = json.loads(tx_json)
        assert tx["from"].lower() == account.address.lower(), f"asked to send from {tx['from']}"
        params = {"to": tx["to"], "data": tx["data"], "value": int(tx.get("value") or "0x0", 16)}
        receipt = chain.transact(account, params)  # type: ignore[arg-type]
        return "0x" + bytes(receipt["transactionHash"]).hex()

    page.expose_function("__nfvmTestWalletSend", send)
    page.expose_function("__nfvmTestWalletSign", sign)
    page.expose_function("__nfvmTestWalletSignTyped", sign_typed)
    page.expose_function("__nfvmTestWalletRpc", rpc)
    page.add_init_script(INIT_SCRIPT % {"address": json.dumps(account.address)})
