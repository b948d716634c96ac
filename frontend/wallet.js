// The portal's wallet layer, bundled by esbuild into static/vendor/nfvm-wallet.js (`make assets`).
// It finds the browser's wallets (EIP-6963 announcements, else an injected EIP-1193 provider),
// offers anvil's published test accounts as a labelled development wallet when the server says so
// (embedded mode only), and gives the page scripts one way to ask for an account, a signature or
// a transaction: window.nfvmWallet. Keys of real users never leave their wallet.
import { privateKeyToAccount } from "viem/accounts";

const CHOICE_KEY = "nfvm.wallet";
const DEV_ACCOUNT_KEY = "nfvm.devAccount";
const DEV_RDNS = "org.nfvm.devwallet";

const announced = [];
const listeners = new Set();

function remember(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch (error) {
    // Private browsing may refuse storage; the choice then lasts for this page only.
  }
}

function recall(key) {
  try {
    return window.localStorage.getItem(key);
  } catch (error) {
    return null;
  }
}

function changed() {
  listeners.forEach((fn) => fn());
  document.dispatchEvent(new CustomEvent("nfvm:wallet"));
}

function add(detail) {
  if (!detail || !detail.info || !detail.provider) return;
  if (announced.some((w) => w.info.uuid === detail.info.uuid || w.provider === detail.provider)) return;
  announced.push(detail);
  changed();
}

function csrfToken() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.split("=")[1]) : "";
}

// The one JSON call page scripts make to the marketplace: the session's CSRF token sent, and an answer
// that is not 2xx thrown as an Error carrying the server's reason.
async function call(url, method, body) {
  const response = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    credentials: "same-origin",
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json();
  if (!response.ok) {
    // The marketplace names wrong fields in `fields`: the page shows each beside its input.
    const failure = new Error(data.error || response.statusText);
    failure.status = response.status;
    failure.fields = data.fields || {};
    throw failure;
  }
  return data;
}

function rpcError(error) {
  const failure = new Error(error && error.message ? error.message : "the chain node refused the request");
  if (error && error.code !== undefined) failure.code = error.code;
  if (error && error.data !== undefined) failure.data = error.data;
  return failure;
}

// --- the development wallet: anvil's test accounts, signing here, the node reached through the
// server's narrow relay (it refuses anything but reads, fee data and signed transactions) ---

function toBigInts(types, primaryType, message) {
  const out = {};
  for (const field of types[primaryType] || []) {
    const value = message[field.name];
    if (/^u?int\d*$/.test(field.type) && value !== undefined && value !== null) out[field.name] = BigInt(value);
    else if (types[field.type] && value && typeof value === "object") out[field.name] = toBigInts(types, field.type, value);
    else out[field.name] = value;
  }
  return out;
}

function quantity(value) {
  if (value === undefined || value === null || value === "") return 0n;
  return BigInt(value);
}

function devWallet(config) {
  const accounts = config.accounts.map((a) => ({ ...a, signer: privateKeyToAccount(a.key) }));
  let id = 0;

  function current() {
    const chosen = Number(recall(DEV_ACCOUNT_KEY));
    return accounts.find((a) => a.index === chosen) || accounts[0];
  }

  function mine(address) {
    const me = current();
    if (!address || address.toLowerCase() !== me.address.toLowerCase()) {
      throw rpcError({ code: 4100, message: `the development wallet holds ${me.address}, not ${address}` });
    }
    return me;
  }

  async function rpc(method, params) {
    const response = await fetch(config.rpcUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params || [] }),
    });
    const answer = await response.json();
    if (answer.error) throw rpcError(answer.error);
    return answer.result;
  }

  async function sendTransaction(tx) {
    const me = mine(tx.from);
    const request = { from: me.address, to: tx.to, data: tx.data || "0x", value: tx.value || "0x0" };
    const [nonce, gas, block, tip] = await Promise.all([
      rpc("eth_getTransactionCount", [me.address, "pending"]),
      tx.gas ? Promise.resolve(tx.gas) : rpc("eth_estimateGas", [request]),
      rpc("eth_getBlockByNumber", ["latest", false]),
      rpc("eth_maxPriorityFeePerGas", []),
    ]);
    const priority = quantity(tip);
    const raw = await me.signer.signTransaction({
      type: "eip1559",
      chainId: config.chainId,
      nonce: Number(nonce),
      to: tx.to,
      data: request.data,
      value: quantity(request.value),
      // A fifth over the estimate: the estimate ran at the latest block, the transaction lands in the next.
      gas: (quantity(gas) * 6n) / 5n,
      maxPriorityFeePerGas: priority,
      maxFeePerGas: quantity(block.baseFeePerGas) * 2n + priority,
    });
    return rpc("eth_sendRawTransaction", [raw]);
  }

  const provider = {
    isNfvmDevelopmentWallet: true,
    async request({ method, params }) {
      const args = params || [];
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [current().address];
        case "eth_chainId":
          return "0x" + config.chainId.toString(16);
        case "personal_sign":
          return mine(args[1]).signer.signMessage({ message: { raw: args[0] } });
        case "eth_signTypedData_v4": {
          const me = mine(args[0]);
          const typed = typeof args[1] === "string" ? JSON.parse(args[1]) : args[1];
          const { EIP712Domain, ...types } = typed.types;
          return me.signer.signTypedData({
            domain: toBigInts({ EIP712Domain }, "EIP712Domain", typed.domain),
            types,
            primaryType: typed.primaryType,
            message: toBigInts(types, typed.primaryType, typed.message),
          });
        }
        case "eth_sendTransaction":
          return sendTransaction(args[0]);
        case "wallet_switchEthereumChain":
          if (parseInt(args[0].chainId, 16) === config.chainId) return null;
          throw rpcError({ code: 4902, message: "the development wallet only knows the development chain" });
        default:
          return rpc(method, args);
      }
    },
    on() {},
    removeListener() {},
  };

  return {
    info: {
      uuid: "6a0d7b2e-1f7c-4c52-9d8e-000000031337",
      name: "Development wallet (anvil test accounts)",
      icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%23b45309'/%3E%3C/svg%3E",
      rdns: DEV_RDNS,
    },
    provider,
    accounts,
    current,
    choose(index) {
      remember(DEV_ACCOUNT_KEY, String(index));
      changed();
      accountSwitched(current().address);
    },
  };
}

// --- discovery and choice ---

const configNode = document.getElementById("dev-wallet");
const dev = configNode ? devWallet(JSON.parse(configNode.textContent)) : null;

window.addEventListener("eip6963:announceProvider", (event) => add(event.detail));
window.dispatchEvent(new Event("eip6963:requestProvider"));

function all() {
  const list = announced.slice();
  if (window.ethereum && !list.some((w) => w.provider === window.ethereum)) {
    list.push({
      info: { uuid: "injected", name: "Browser wallet", icon: "", rdns: "injected" },
      provider: window.ethereum,
    });
  }
  if (dev) list.push(dev);
  return list;
}

function chosen() {
  const list = all();
  const saved = recall(CHOICE_KEY);
  return list.find((w) => w.info.uuid === saved) || list[0] || null;
}

function choose(uuid) {
  remember(CHOICE_KEY, uuid);
  changed();
}

function expectedChainId() {
  const value = document.body && document.body.dataset.chainId;
  return value ? Number(value) : null;
}

// A session belongs to one address: when the wallet switches to another account while signed in, the
// session is signed out (the header's sign-out form), and the sign-in page comes back to this page.
function accountSwitched(address) {
  const session = signedIn();
  if (!session || !address || address.toLowerCase() === session) return;
  const form = document.querySelector("form[data-signout]");
  if (!form) return;
  form.querySelector("[name=why]").value = "account-switched";
  form.querySelector("[name=next]").value = window.location.pathname + window.location.search;
  form.submit();
}

function watchAccounts(provider) {
  if (!provider || typeof provider.on !== "function" || provider.nfvmWatched) return;
  provider.nfvmWatched = true;
  provider.on("accountsChanged", (accounts) => {
    if (chosen() && chosen().provider === provider) accountSwitched(accounts && accounts[0]);
  });
}

function signedIn() {
  const value = document.body && document.body.dataset.address;
  return value ? value.toLowerCase() : null;
}

function need() {
  const wallet = chosen();
  if (!wallet) {
    throw new Error("no Ethereum wallet found in this browser: install one (an EIP-1193 browser wallet) and reload");
  }
  return wallet.provider;
}

async function account({ matchSession = true } = {}) {
  const [address] = await need().request({ method: "eth_requestAccounts" });
  if (!address) throw new Error("the wallet shared no account");
  const session = signedIn();
  if (matchSession && session && address.toLowerCase() !== session) {
    throw new Error(
      `your wallet's account ${address} is not the signed-in address ${document.body.dataset.address}: ` +
        "switch accounts in the wallet, or sign out and sign in again",
    );
  }
  return address;
}

async function onExpectedChain(provider) {
  const expected = expectedChainId();
  if (!expected) return;
  const actual = parseInt(await provider.request({ method: "eth_chainId" }), 16);
  if (actual === expected) return;
  try {
    await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: "0x" + expected.toString(16) }] });
  } catch (error) {
    throw new Error(`your wallet is on chain ${actual}; switch it to chain ${expected}, the marketplace's chain`);
  }
}

function utf8Hex(text) {
  return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function signMessage(address, text) {
  return need().request({ method: "personal_sign", params: [utf8Hex(text), address] });
}

async function signTypedData(address, typed) {
  const provider = need();
  await onExpectedChain(provider);
  return provider.request({ method: "eth_signTypedData_v4", params: [address, JSON.stringify(typed)] });
}

async function sendTransaction(from, tx) {
  const provider = need();
  await onExpectedChain(provider);
  const request = { from, to: tx.to, data: tx.data, value: tx.value || "0x0" };
  return provider.request({ method: "eth_sendTransaction", params: [request] });
}

// Follows a sent transaction until it is mined; resolves with its receipt, rejects on a revert.
async function waitForReceipt(hash, { intervalMs = 1000, timeoutMs = 120000 } = {}) {
  const provider = need();
  const started = Date.now();
  for (;;) {
    const receipt = await provider.request({ method: "eth_getTransactionReceipt", params: [hash] });
    if (receipt) {
      if (receipt.status === "0x0") throw new Error(`transaction ${hash} reverted`);
      return receipt;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`transaction ${hash} is not mined yet; check again later`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// Follows a mined transaction until the marketplace's indexer has read its block: the pages show
// what the indexer recorded, never what a sent transaction was assumed to do.
async function waitForIndexed(receipt, { intervalMs = 1000, timeoutMs = 120000 } = {}) {
  const url = document.body.dataset.indexerUrl;
  const block = parseInt(receipt.blockNumber, 16);
  const started = Date.now();
  for (;;) {
    const response = await fetch(`${url}?block=${block}`, { credentials: "same-origin" });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    if (answer.indexed) return answer;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`the marketplace has not indexed block ${block} yet; reload the page in a while`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

async function blockNumber() {
  return need().request({ method: "eth_blockNumber" });
}

// --- the picker: which wallet (and, for the development wallet, which test account) is used ---

function option(value, label, selected) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = label;
  node.selected = selected;
  return node;
}

function short(address) {
  return address.slice(0, 6) + "…" + address.slice(-4);
}

function renderPicker(root) {
  const list = all();
  const current = chosen();
  root.replaceChildren();
  root.hidden = list.length === 0;
  if (!list.length) return;
  const id = root.id || "wallet-picker";
  if (list.length > 1) {
    const label = document.createElement("label");
    label.htmlFor = id + "-wallet";
    label.textContent = "Wallet";
    const select = document.createElement("select");
    select.id = id + "-wallet";
    list.forEach((w) => select.append(option(w.info.uuid, w.info.name, w === current)));
    select.addEventListener("change", () => choose(select.value));
    root.append(label, select);
  } else {
    const name = document.createElement("span");
    name.className = "wallet-name";
    name.textContent = current.info.name;
    root.append(name);
  }
  if (current === dev) {
    const label = document.createElement("label");
    label.htmlFor = id + "-account";
    label.textContent = "Test account";
    const select = document.createElement("select");
    select.id = id + "-account";
    const me = dev.current();
    dev.accounts.forEach((a) => select.append(option(String(a.index), `#${a.index} ${short(a.address)}`, a === me)));
    select.addEventListener("change", () => dev.choose(Number(select.value)));
    const note = document.createElement("span");
    note.className = "dev-note";
    note.textContent = "Development only: these keys are public.";
    root.append(label, select, note);
  }
}

function pickers() {
  document.querySelectorAll("[data-wallet-picker]").forEach(renderPicker);
  all().forEach((w) => w !== dev && watchAccounts(w.provider));
}

listeners.add(pickers);
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", pickers);
else pickers();
window.addEventListener("load", changed);

window.nfvmWallet = {
  call,
  wallets: all,
  chosen,
  choose,
  account,
  signMessage,
  signTypedData,
  sendTransaction,
  waitForReceipt,
  waitForIndexed,
  blockNumber,
  onChange(fn) {
    listeners.add(fn);
  },
  isDevelopment() {
    return chosen() === dev && dev !== null;
  },
};
