// Approval cards: the tool, its arguments, the policy checks and the expiry; Approve / Reject with a note.

import { clear, h, when } from "../dom.js";

export function renderApprovals(container, approvals, { canDecide, onDecide }) {
  clear(container);
  for (const approval of approvals) {
    const pending = approval.status === "pending";
    const note = h("textarea", { id: `note-${approval.id}`, rows: 2, maxlength: 1000 });
    const args = Object.entries(approval.args || {}).flatMap(([key, value]) => [
      h("dt", {}, key),
      h("dd", {}, typeof value === "string" ? value : JSON.stringify(value)),
    ]);
    const card = h(
      "article",
      {
        class: `card status-${approval.status}`,
        dataset: { approval: approval.id },
        "aria-label": `Approval ${approval.tool} ${approval.args?.order_number || ""}`.trim(),
      },
      h("h4", {}, approval.tool, " ", h("span", { class: "badge approval-status" }, approval.status)),
      h("dl", { class: "facts" }, args),
      h("p", { class: "meta" }, "Policy checks"),
      h("ul", { class: "checks" }, (approval.checks || []).map((check) => h("li", {}, check))),
      approval.expires_at ? h("p", { class: "meta" }, `Expires ${when(approval.expires_at)}`) : null,
      approval.decided_by
        ? h("p", { class: "meta" }, `Decided by ${approval.decided_by}${approval.decision_note ? `: ${approval.decision_note}` : ""}`)
        : null,
    );
    if (pending && canDecide) {
      const approve = h("button", { type: "button", class: "approve" }, "Approve");
      const reject = h("button", { type: "button", class: "reject" }, "Reject");
      const decide = (decision) => {
        approve.disabled = reject.disabled = true;
        onDecide(approval, decision, note.value.trim() || null).finally(() => {
          approve.disabled = reject.disabled = false;
        });
      };
      approve.addEventListener("click", () => decide("approve"));
      reject.addEventListener("click", () => decide("reject"));
      card.append(h("label", { for: note.id }, "Note"), note, h("div", { class: "row" }, approve, reject));
    } else if (pending) {
      card.append(h("p", { class: "hint" }, "Waiting for a staff member with the approve scope."));
    }
    container.append(card);
  }
}
