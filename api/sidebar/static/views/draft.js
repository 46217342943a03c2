// The suggested reply: streamed with numbered citations and tool calls; use, rewrite, rate or summarise it.

import { $, clear, h, safeUrl, show } from "../dom.js";
import { toolCall } from "./conversation.js";

export class DraftPanel {
  constructor({ api, notify, parentOrigin }) {
    this.api = api;
    this.notify = notify;
    this.parentOrigin = parentOrigin; // null: not embedded by an allowed helpdesk, so copy instead
    this.conversationId = null;
    this.result = null;
    this.passages = new Map();
    this.lastCustomerId = 0;
    this.busy = false;
    $("suggest").addEventListener("click", () => this.suggest());
    $("regenerate").addEventListener("click", () => this.suggest());
    $("use-draft").addEventListener("click", () => this.use());
    $("shorter").addEventListener("click", () => this.rewrite("shorter"));
    $("friendlier").addEventListener("click", () => this.rewrite("friendlier"));
    $("formal").addEventListener("click", () => this.rewrite("formal"));
    $("summarise").addEventListener("click", () => this.summarise());
    $("thumbs-up").addEventListener("click", () => this.feedback("up"));
    $("thumbs-down").addEventListener("click", () => this.feedback("down"));
    $("passage-close").addEventListener("click", () => show($("passage"), false));
  }

  reset(conversationId) {
    this.conversationId = conversationId;
    this.result = null;
    this.passages.clear();
    $("draft-text").value = "";
    $("draft-text").readOnly = true;
    delete $("draft-text").dataset.tokens;
    $("draft-status").textContent = "";
    clear($("citations"));
    clear($("tool-calls"));
    for (const id of ["draft-actions", "feedback", "draft-stale", "draft-internal", "passage", "summary"]) {
      show($(id), false);
    }
  }

  // Called whenever the history is (re)loaded: a newer customer message makes the draft stale.
  historyChanged(messages) {
    this.lastCustomerId = Math.max(0, ...messages.filter((m) => m.role === "customer").map((m) => m.id));
    this.markStale();
  }

  markStale() {
    const stale = Boolean(this.result?.message_id && this.lastCustomerId > this.result.message_id);
    show($("draft-stale"), stale);
  }

  async suggest() {
    if (this.busy || !this.conversationId) return;
    const conversationId = this.conversationId;
    this.reset(conversationId);
    this.busy = true;
    $("suggest").disabled = true;
    const text = $("draft-text");
    $("draft-status").textContent = "Drafting…";
    let tokens = 0;
    try {
      await this.api.stream(`v1/conversations/${encodeURIComponent(conversationId)}/draft`, (event, data) => {
        if (conversationId !== this.conversationId) return;
        if (event === "token") {
          text.value += data.delta;
          text.dataset.tokens = String(++tokens); // how many pieces streamed in, for the curious (and tests)
        }
        else if (event === "reset") text.value = "";
        else if (event === "tool_call") this.addToolCall(data);
        else if (event === "final") this.finish(data);
        else if (event === "error") throw new Error(data?.error?.message || "the draft failed");
      });
    } catch (error) {
      $("draft-status").textContent = `No draft: ${error.message}`;
    } finally {
      this.busy = false;
      $("suggest").disabled = false;
    }
  }

  finish(result) {
    this.result = result;
    const text = $("draft-text");
    text.value = result.reply;
    text.readOnly = false;
    $("draft-status").textContent = label(result.model, result.degraded);
    clear($("tool-calls"));
    for (const call of result.tool_calls) this.addToolCall(call);
    this.renderCitations(result.citations);
    show($("draft-actions"), true);
    show($("feedback"), Boolean(result.message_id));
    this.markStale();
    this.loadPassages(result.citations);
  }

  addToolCall(call) {
    $("tool-calls").append(toolCall(call));
  }

  renderCitations(citations) {
    const list = clear($("citations"));
    citations.forEach((citation, index) => {
      const n = citation.n ?? index + 1;
      const passage = this.passages.get(citation.chunk_id);
      const name = `[${n}] ${citation.title}${citation.section ? ` — ${citation.section}` : ""}`;
      list.append(
        h(
          "li",
          { dataset: { chunk: citation.chunk_id } },
          h("button", { type: "button", class: "link", onclick: () => this.openPassage(citation) }, name),
          passage?.internal ? h("span", { class: "badge urgent" }, "Internal") : null,
          passage?.flagged ? h("span", { class: "badge warn" }, "Contains AI instructions") : null,
        ),
      );
    });
  }

  async loadPassages(citations) {
    await Promise.all(
      citations.map(async (citation) => {
        try {
          const passage = await this.api.get(`v1/knowledge/passages/${encodeURIComponent(citation.chunk_id)}`);
          this.passages.set(citation.chunk_id, passage);
        } catch {
          // a passage deleted since the draft: the citation stays, without its text
        }
      }),
    );
    if (this.result?.citations !== citations) return;
    this.renderCitations(citations);
    show($("draft-internal"), [...this.passages.values()].some((p) => p.internal));
  }

  async openPassage(citation) {
    let passage = this.passages.get(citation.chunk_id);
    if (!passage) {
      try {
        passage = await this.api.get(`v1/knowledge/passages/${encodeURIComponent(citation.chunk_id)}`);
        this.passages.set(citation.chunk_id, passage);
      } catch (error) {
        this.notify(`Passage unavailable: ${error.message}`);
        return;
      }
    }
    $("passage-title").textContent = passage.title;
    const meta = clear($("passage-meta"));
    meta.append(passage.section || "(no section)", " · ");
    const url = safeUrl(passage.source);
    const external = /^https?:\/\//i.test(passage.source);
    meta.append(
      external && url
        ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, passage.source)
        : h("span", {}, passage.source),
    );
    show($("passage-internal"), passage.internal);
    $("passage-text").textContent = passage.text;
    show($("passage"), true);
    $("passage-title").focus();
  }

  async use() {
    const text = $("draft-text").value;
    if (!text) return;
    if (this.parentOrigin) {
      window.parent.postMessage({ type: "deskpilot.insert", text }, this.parentOrigin);
      this.notify("Draft sent to the helpdesk editor.");
      return;
    }
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      $("draft-text").select();
      document.execCommand("copy");
    }
    this.notify("Draft copied to the clipboard.");
  }

  async rewrite(style) {
    const text = $("draft-text").value;
    if (!text || !this.conversationId) return;
    $("draft-status").textContent = "Rewriting…";
    try {
      const out = await this.api.post(`v1/conversations/${encodeURIComponent(this.conversationId)}/rewrite`, {
        text,
        style,
      });
      $("draft-text").value = out.text;
      $("draft-status").textContent = `Rewritten (${style}) · ${label(out.model, out.degraded)}`;
    } catch (error) {
      $("draft-status").textContent = `Rewrite failed: ${error.message}`;
    }
  }

  async summarise() {
    if (!this.conversationId) return;
    try {
      const out = await this.api.post(`v1/conversations/${encodeURIComponent(this.conversationId)}/summary`);
      $("summary-text").textContent = out.text;
      $("summary-label").textContent = label(out.model, out.degraded);
      show($("summary"), true);
    } catch (error) {
      this.notify(`Summary failed: ${error.message}`);
    }
  }

  async feedback(rating) {
    if (!this.result?.message_id) return;
    try {
      await this.api.post("v1/feedback", {
        conversation_id: this.conversationId,
        message_id: this.result.message_id,
        rating,
        reason: $("feedback-reason").value.trim() || null,
        channel: "sidebar",
      });
      this.notify(rating === "up" ? "Thanks: marked as a good draft." : "Thanks: marked as a bad draft.");
    } catch (error) {
      this.notify(`Feedback failed: ${error.message}`);
    }
  }
}

export function label(model, degraded) {
  return degraded ? `${model} · degraded (offline engine)` : model;
}
