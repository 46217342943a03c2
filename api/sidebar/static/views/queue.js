// The queue: conversations waiting for a human first (pending approvals, then handoffs, then newest).

import { clear, h, when } from "../dom.js";

export function renderQueue(list, items, { onOpen, activeId }) {
  clear(list);
  for (const item of items) {
    const flags = [];
    if (item.pending_approvals) flags.push(h("span", { class: "badge urgent" }, "Approval pending"));
    if (item.status === "needs_human") flags.push(h("span", { class: "badge warn" }, "Needs human"));
    if (item.external_id) flags.push(h("span", { class: "badge" }, `${item.channel}:${item.external_id}`));
    const label = item.customer_id ? `Customer ${item.customer_id}` : "No customer yet";
    list.append(
      h(
        "li",
        { class: item.id === activeId ? "active" : null },
        h(
          "button",
          {
            type: "button",
            class: "queue-item",
            dataset: { conversation: item.id },
            "aria-label": `Open conversation ${item.id}, ${label}`,
            onclick: () => onOpen(item.id),
          },
          h("span", { class: "queue-head" }, h("strong", {}, label), " ", flags),
          h("span", { class: "preview" }, item.preview || "(no messages yet)"),
          h("span", { class: "meta" }, `${when(item.last_activity)} · ${item.id}`),
        ),
      ),
    );
  }
}
