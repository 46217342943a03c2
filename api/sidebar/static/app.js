// The sidebar: sign in, the queue, one conversation at a time; everything refreshes by polling.

import { Api, ApiError, storedKey, storeKey } from "./api.js";
import { $, show } from "./dom.js";
import { renderApprovals } from "./views/approvals.js";
import { renderCustomer, renderHistory } from "./views/conversation.js";
import { DraftPanel } from "./views/draft.js";
import { renderQueue } from "./views/queue.js";

const POLL_MS = 3000;
const state = {
  api: null,
  me: null,
  conversationId: null,
  conversation: null,
  revealed: false,
  lastMessageId: null,
  approvals: new Map(),
  draft: null,
  timer: null,
};

const can = {
  work: () => state.me.scopes.some((s) => ["agent", "integration", "admin"].includes(s)),
  approve: () => state.me.scopes.includes("approve"),
  reveal: () => state.me.can_reveal,
};

function notify(message) {
  $("notice").textContent = message;
}

// --- the helpdesk that embeds us -------------------------------------------------------------------

function parentOrigin() {
  if (window.parent === window) return null;
  const allowed = document
    .querySelector('meta[name="deskpilot-parent-origins"]')
    .content.split(/\s+/)
    .filter(Boolean)
    .map((source) => (source === "'self'" ? location.origin : source));
  let actual = location.ancestorOrigins?.[0];
  if (!actual && document.referrer) actual = new URL(document.referrer).origin;
  if (!actual) return null;
  const matches = (pattern) => {
    if (pattern === actual) return true;
    const wild = pattern.match(/^(https?:\/\/)\*\.(.+)$/);
    return Boolean(wild && actual.startsWith(wild[1]) && actual.endsWith(`.${wild[2]}`));
  };
  return allowed.some(matches) ? actual : null;
}

// --- sign in ---------------------------------------------------------------------------------------

async function signIn(key) {
  const api = new Api(key);
  try {
    state.me = await api.get("v1/me");
  } catch (error) {
    storeKey(null);
    showSignIn(error instanceof ApiError && error.status === 401 ? "That key was not accepted." : error.message);
    return;
  }
  storeKey(key);
  state.api = api;
  state.draft = new DraftPanel({ api, notify, parentOrigin: parentOrigin() });
  $("whoami").textContent = `Tenant ${state.me.tenant} · scopes: ${state.me.scopes.join(", ")}`;
  show($("whoami"), true);
  show($("sign-out"), true);
  show($("sign-in"), false);
  show($("draft"), can.work());
  await route();
  state.timer = setInterval(() => poll().catch((error) => notify(error.message)), POLL_MS);
}

function showSignIn(message = "") {
  show($("sign-in"), true);
  show($("queue"), false);
  show($("conversation"), false);
  show($("whoami"), false);
  show($("sign-out"), false);
  notify(message);
  $("api-key").focus();
}

function signOut() {
  clearInterval(state.timer);
  storeKey(null);
  location.replace(location.pathname);
}

// --- where to go: ?conversation=ID, ?ticket=PROVIDER:ID, else the queue ------------------------------

async function route() {
  const params = new URLSearchParams(location.search);
  const ticket = params.get("ticket");
  if (params.get("conversation")) return openConversation(params.get("conversation"));
  if (ticket && ticket.includes(":") && can.work()) {
    const [provider, ...rest] = ticket.split(":");
    const query = new URLSearchParams({ channel: provider, external_id: rest.join(":"), limit: "1" });
    const found = await state.api.get(`v1/conversations?${query}`);
    if (found.length) return openConversation(found[0].id);
    notify(`No conversation for ticket ${ticket} yet.`);
  }
  return showQueue();
}

// --- the queue -------------------------------------------------------------------------------------

async function showQueue() {
  state.conversationId = null;
  history.replaceState(null, "", location.pathname);
  show($("conversation"), false);
  show($("queue"), true);
  await refreshQueue();
}

async function refreshQueue() {
  if (!can.work()) {
    // An approver-only key: the pending approvals are its queue.
    const pending = await state.api.get("v1/approvals?status=pending");
    $("queue-title").textContent = "Pending approvals";
    show($("queue-all").parentElement, false);
    show($("queue-empty"), !pending.length);
    renderApprovals($("queue-cards"), pending, { canDecide: true, onDecide: decide });
    return;
  }
  const all = $("queue-all").checked;
  const items = await state.api.get(`v1/conversations?limit=100${all ? "" : "&needs_human=true"}`);
  renderQueue($("queue-list"), items, { onOpen: openConversation, activeId: state.conversationId });
  show($("queue-empty"), !items.length);
}

// --- one conversation ------------------------------------------------------------------------------

async function openConversation(id) {
  state.conversationId = id;
  state.revealed = false;
  state.lastMessageId = null;
  state.approvals.clear();
  const params = new URLSearchParams(location.search);
  params.delete("ticket");
  params.set("conversation", id);
  history.replaceState(null, "", `${location.pathname}?${params}`);
  show($("queue"), false);
  show($("conversation"), true);
  show($("reveal"), can.reveal());
  state.draft.reset(id);
  try {
    await loadConversation();
  } catch (error) {
    notify(`Cannot open ${id}: ${error.message}`);
    return showQueue();
  }
  $("conversation-title").focus();
}

async function loadConversation() {
  const id = state.conversationId;
  const conversation = state.revealed
    ? await state.api.post(`v1/conversations/${encodeURIComponent(id)}/reveal`)
    : await state.api.get(`v1/conversations/${encodeURIComponent(id)}?redacted=true`);
  if (id !== state.conversationId) return;
  const first = state.conversation?.id !== conversation.id;
  state.conversation = conversation;
  const messages = conversation.messages;
  state.lastMessageId = messages.length ? messages[messages.length - 1].id : 0;
  $("conversation-title").textContent = `Conversation ${conversation.id}`;
  $("conversation-meta").textContent = [
    conversation.status === "needs_human" ? `Needs a human: ${conversation.handoff_reason || "handed off"}` : "Copilot active",
    conversation.external_id ? `${conversation.channel}:${conversation.external_id}` : conversation.channel,
  ].join(" · ");
  $("reveal").textContent = state.revealed ? "Hide PII" : "Reveal PII";
  $("pii-state").textContent = state.revealed
    ? "Real values shown; this reveal was recorded in the audit log."
    : "Personal data is masked with placeholders.";
  renderHistory($("history"), messages);
  state.draft.historyChanged(messages);
  if (first || state.revealed !== state.customerRevealed) await loadCustomer();
  await refreshApprovals();
}

async function loadCustomer() {
  const customerId = state.conversation.customer_id;
  state.customerRevealed = state.revealed;
  if (!customerId) return renderCustomer($("customer-body"), null, [], false);
  const [profile, refunds] = await Promise.all([
    state.api.get(`v1/customers/${encodeURIComponent(customerId)}`),
    state.api.get(`v1/customers/${encodeURIComponent(customerId)}/refunds`),
  ]);
  renderCustomer($("customer-body"), profile, refunds, state.revealed);
}

async function refreshApprovals() {
  const id = state.conversationId;
  if (!can.approve()) {
    show($("approvals"), false);
    return;
  }
  const pending = await state.api.get(`v1/approvals?status=pending&conversation_id=${encodeURIComponent(id)}`);
  for (const approval of pending) state.approvals.set(approval.id, approval);
  // A card decided elsewhere (another staff member, Slack, expiry) shows its new state.
  const gone = [...state.approvals.values()].filter(
    (a) => a.status === "pending" && !pending.some((p) => p.id === a.id),
  );
  for (const approval of gone) {
    state.approvals.set(approval.id, await state.api.get(`v1/approvals/${encodeURIComponent(approval.id)}`));
  }
  if (id !== state.conversationId) return;
  const cards = [...state.approvals.values()];
  show($("approvals"), cards.length > 0);
  renderApprovals($("approval-cards"), cards, { canDecide: true, onDecide: decide });
}

async function decide(approval, decision, note) {
  try {
    const out = await state.api.post(`v1/approvals/${encodeURIComponent(approval.id)}`, { decision, note });
    state.approvals.set(approval.id, out.approval);
    notify(`${approval.tool}: ${out.approval.status}.`);
  } catch (error) {
    notify(`Decision failed: ${error.message}`);
  }
  if (state.conversationId) {
    await loadConversation();
    await loadCustomer(); // a refund or a cancellation shows in the customer's orders at once
  } else await refreshQueue();
}

async function toggleReveal() {
  state.revealed = !state.revealed;
  try {
    await loadConversation();
  } catch (error) {
    state.revealed = false;
    notify(`Reveal failed: ${error.message}`);
  }
}

// --- live updates ----------------------------------------------------------------------------------

async function poll() {
  if (!state.api) return;
  if (!state.conversationId) return refreshQueue();
  const id = state.conversationId;
  const latest = await state.api.get(`v1/conversations/${encodeURIComponent(id)}?redacted=true`);
  const last = latest.messages.length ? latest.messages[latest.messages.length - 1].id : 0;
  if (id !== state.conversationId) return;
  if (last !== state.lastMessageId || latest.status !== state.conversation.status) await loadConversation();
  else await refreshApprovals();
}

// --- start -----------------------------------------------------------------------------------------

function start() {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    $("api-key").value = "";
    if (key) signIn(key);
  });
  $("sign-out").addEventListener("click", signOut);
  $("back").addEventListener("click", () => showQueue());
  $("reveal").addEventListener("click", toggleReveal);
  $("queue-all").addEventListener("change", () => refreshQueue());
  const key = storedKey();
  if (key) signIn(key);
  else showSignIn();
}

start();
