// The conversation: who the customer is, and the history with each role told apart.

import { clear, h, money, when } from "../dom.js";

const ROLE_LABELS = {
  customer: "Customer",
  assistant: "Copilot",
  staff: "Staff reply",
  note: "Internal note",
};

export function renderHistory(list, messages) {
  clear(list);
  for (const message of messages) {
    const meta = message.meta || {};
    const draft = message.role === "assistant" && meta.draft;
    const label = draft ? "Copilot draft (not sent)" : ROLE_LABELS[message.role] || message.role;
    const tags = [];
    if (meta.degraded) tags.push(h("span", { class: "badge warn" }, "Degraded: offline engine"));
    if (meta.pending_approval) tags.push(h("span", { class: "badge urgent" }, "Asked for staff approval"));
    list.append(
      h(
        "li",
        {
          class: `msg role-${message.role}${draft ? " draft" : ""}`,
          dataset: { id: message.id, role: message.role },
        },
        h(
          "p",
          { class: "msg-head" },
          h("strong", {}, label),
          message.author && message.role !== "customer" ? ` · ${message.author}` : "",
          ` · ${when(message.created_at)} `,
          tags,
        ),
        h("p", { class: "msg-text" }, message.content),
        toolCalls(meta.tool_calls),
      ),
    );
  }
}

// What the copilot called, with the arguments and results as stored (placeholders for personal data).
export function toolCalls(calls) {
  if (!calls?.length) return null;
  return h(
    "details",
    { class: "tool-calls" },
    h("summary", {}, `Tool calls (${calls.length})`),
    h("ol", { class: "tools" }, calls.map((call) => toolCall(call))),
  );
}

export function toolCall(call) {
  return h(
    "li",
    { class: `tool status-${call.status}` },
    h("strong", {}, call.name),
    ` (${call.status}) `,
    h("code", {}, JSON.stringify(call.args)),
    call.result !== undefined && call.result !== null
      ? h("details", {}, h("summary", {}, "Result"), h("pre", {}, JSON.stringify(call.result, null, 2)))
      : null,
  );
}

const MASK = "•••• (hidden)";

export function renderCustomer(body, profile, refunds, revealed) {
  clear(body);
  if (!profile) {
    body.append(h("p", { class: "hint" }, "No customer is linked to this conversation."));
    return;
  }
  const c = profile.customer;
  const pii = (value) => (revealed ? value || "—" : MASK);
  const address = c.address
    ? [c.address.street, c.address.city, c.address.postal_code, c.address.country].filter(Boolean).join(", ")
    : "";
  body.append(
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Customer"),
      h("dd", {}, c.customer_id),
      h("dt", {}, "Name"),
      h("dd", { class: "pii" }, pii(c.name)),
      h("dt", {}, "E-mail"),
      h("dd", { class: "pii" }, pii(c.email)),
      h("dt", {}, "Phone"),
      h("dd", { class: "pii" }, pii(c.phone)),
      h("dt", {}, "Address"),
      h("dd", { class: "pii" }, pii(address)),
      h("dt", {}, "Orders"),
      h("dd", {}, String(profile.order_count)),
    ),
  );
  const rows = profile.orders.map((o) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, o.order_number),
      h("td", {}, h("span", { class: `badge status-${o.status}` }, o.status)),
      h("td", {}, o.delivered_at ? `delivered ${when(o.delivered_at)}` : `placed ${when(o.placed_at)}`),
      h("td", { class: "num" }, money(o.total_cents, o.currency)),
    ),
  );
  body.append(
    h(
      "table",
      { class: "orders" },
      h("caption", {}, "Orders"),
      h(
        "thead",
        {},
        h("tr", {}, h("th", { scope: "col" }, "Order"), h("th", { scope: "col" }, "State"),
          h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Total")),
      ),
      h("tbody", {}, rows),
    ),
  );
  const currency = Object.fromEntries(profile.orders.map((o) => [o.order_number, o.currency]));
  body.append(h("h4", {}, "Refunds"));
  body.append(
    refunds.length
      ? h(
          "ul",
          { class: "refunds" },
          refunds.map((r) =>
            h(
              "li",
              {},
              `${r.refund_id} · ${r.order_number}: ${money(r.amount_cents, currency[r.order_number] || "USD")}`,
              ` · ${r.status} · ${when(r.created_at)}`,
            ),
          ),
        )
      : h("p", { class: "hint" }, "No refunds."),
  );
  const open = profile.tickets.filter((t) => !["solved", "closed"].includes(t.status));
  body.append(h("h4", {}, "Open tickets"));
  body.append(
    open.length
      ? h("ul", { class: "tickets" }, open.map((t) => h("li", {}, `${t.ticket_id}: ${t.subject} (${t.queue}, ${t.status})`)))
      : h("p", { class: "hint" }, "No open tickets."),
  );
}
