"""The support-agent sidebar in a real browser (Debian's Chromium through Playwright), against the app
served by uvicorn with the offline engine, Presidio and a small help centre. One browser for the module."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from tests.api.sidebar_app import (
    TENANT,
    HostPage,
    Seeded,
    ThreadedServer,
    free_port,
    ingest_help_centre,
    refundable_orders,
    refunds_of,
    seed_conversations,
)
from tests.conftest import TODAY

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT_MAX_BYTES = 200_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Chromium is not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def app_server(
    tmp_path_factory: pytest.TempPathFactory, analyzer: Any, demo_knowledge: Any
) -> Iterator[tuple[Seeded, Any]]:
    from cryptography.fernet import Fernet

    from agent.pii import PiiVault, Redactor
    from api.auth import create_key
    from api.db import create_schema, make_engine
    from api.main import create_app
    from api.settings import Settings
    from tools.demo_data import seed_demo

    host_port = free_port()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        home=tmp_path_factory.mktemp("sidebar-home"),
        force_offline=True,
        sidebar_frame_ancestors=f"'self' http://127.0.0.1:{host_port}",
        maintenance_interval_s=3600,
    )
    settings.ensure_home()
    engine = make_engine(settings.effective_database_url)
    create_schema(engine)
    seed_demo(engine, tenant=TENANT, today=TODAY)
    ingest_help_centre(demo_knowledge)  # its own tenant: the shared knowledge base stays as it was
    redactor = Redactor(analyzer, PiiVault(engine, Fernet.generate_key()))
    orders = refundable_orders(engine)  # read before the app's own workers start writing
    app = create_app(settings, engine=engine, redactor=redactor, knowledge=demo_knowledge)
    with ThreadedServer(app, free_port()) as base, HostPage(host_port) as host:
        seeded = Seeded(base=base, host=host)
        for role, scopes in {
            "agent": ["agent"],
            "approver": ["agent", "approve"],
            "admin": ["admin"],
            "approver_only": ["approve"],
        }.items():
            seeded.keys[role] = create_key(engine, tenant=TENANT, scopes=scopes)[1]
        seed_conversations(seeded, orders)
        yield seeded, engine
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Watched:
    """A page whose dialogs and requests to anything but the two local servers are recorded (and blocked)."""

    def __init__(self, browser: Any, seeded: Seeded, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.foreign: list[str] = []
        self.csp_violations: list[str] = []  # on the sidebar's own pages
        self.page.on("dialog", self._dialog)
        self.page.on("console", self._console)
        self.context.on("dialog", self._dialog)
        allowed = {urlsplit(seeded.base).netloc, urlsplit(seeded.host.origin).netloc}

        def route(request_route: Any) -> None:
            url = urlsplit(request_route.request.url)
            if url.scheme in ("http", "https") and url.netloc not in allowed:
                self.foreign.append(request_route.request.url)
                request_route.abort()
            else:
                request_route.continue_()

        self.context.route("**/*", route)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text and "/sidebar" in self.page.url:
            self.csp_violations.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: Any, app_server: tuple[Seeded, Any]) -> Iterator[Watched]:
    seeded, _ = app_server
    opened = Watched(browser, seeded, viewport={"width": 520, "height": 1000})
    yield opened
    assert not opened.foreign, f"requests left the machine: {opened.foreign}"
    assert not opened.csp_violations, opened.csp_violations
    opened.close()


def sign_in(page: Any, seeded: Seeded, role: str, query: str = "") -> None:
    page.goto(f"{seeded.base}/sidebar")
    page.locator("#sign-in:visible, #sign-out:visible").first.wait_for()
    if page.locator("#sign-out").is_visible():
        page.get_by_role("button", name="Sign out").click()
        page.locator("#sign-in").wait_for()
    page.goto(f"{seeded.base}/sidebar{query}")
    page.get_by_label("API key").fill(seeded.keys[role])
    page.get_by_role("button", name="Sign in").click()
    page.locator("#whoami").wait_for()


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


# --- the page and its headers -----------------------------------------------------------------------


def test_the_page_is_served_with_a_strict_content_security_policy(app_server: tuple[Seeded, Any]) -> None:
    import httpx

    seeded, _ = app_server
    page = httpx.get(f"{seeded.base}/sidebar")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = dict(
        part.strip().split(" ", 1)
        for part in page.headers["content-security-policy"].split(";")
        if part.strip()
    )
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"
    assert "unsafe" not in page.headers["content-security-policy"]
    assert policy["frame-ancestors"] == f"'self' {seeded.host.origin}"
    assert page.headers["x-content-type-options"] == "nosniff"
    # No inline script or handler, and nothing from another origin.
    assert "<script>" not in page.text and not re.search(r"\son[a-z]+=", page.text)
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)
    script = httpx.get(f"{seeded.base}/sidebar/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{seeded.base}/sidebar/..%2Fmain.py").status_code == 404


def test_sign_in_shows_the_tenant_and_scopes_and_the_queue_puts_approvals_first(
    watched: Watched, app_server: tuple[Seeded, Any]
) -> None:
    seeded, _ = app_server
    page = watched.page
    page.goto(f"{seeded.base}/sidebar")
    page.get_by_label("API key").fill("dp_not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    expect()(page.locator("#notice")).to_have_text("That key was not accepted.")

    sign_in(page, seeded, "approver")
    expect()(page.locator("#whoami")).to_have_text(f"Tenant {TENANT} · scopes: agent, approve")
    assert page.evaluate("sessionStorage.getItem('deskpilot.key')") == seeded.keys["approver"]
    assert page.context.cookies() == []
    queue = page.locator("#queue-list .queue-item")
    waiting = {seeded.conversations[p] for p in seeded.approvals}
    expect()(queue).to_have_count(len(waiting))  # the needs-a-human view: the pending refunds
    assert {queue.nth(i).get_attribute("data-conversation") for i in range(len(waiting))} == waiting
    expect()(queue.first).to_contain_text("Approval pending")
    page.get_by_label("Show all").check()
    expect()(queue).to_have_count(len(waiting) + 2)
    ids = [queue.nth(i).get_attribute("data-conversation") for i in range(len(waiting) + 2)]
    assert set(ids[: len(waiting)]) == waiting  # pending approvals first, then the newest
    assert ids[-2:] == [seeded.conversations["hostile"], seeded.conversations["question"]]


def test_deep_links_open_a_conversation_by_id_or_by_ticket(
    watched: Watched, app_server: tuple[Seeded, Any]
) -> None:
    seeded, _ = app_server
    page = watched.page
    with seeded.client("agent") as client:
        ticket = client.post(
            "/v1/conversations",
            json={"channel": "zendesk", "external_id": "ZD-77", "customer_id": "CUS-1002"},
        ).json()["id"]
    sign_in(page, seeded, "agent", "?ticket=zendesk:ZD-77")
    expect()(page.locator("#conversation-title")).to_have_text(f"Conversation {ticket}")
    expect()(page.locator("#conversation-meta")).to_contain_text("zendesk:ZD-77")
    assert page.url.endswith(f"?conversation={ticket}")  # the address names the conversation from now on
    page.goto(f"{seeded.base}/sidebar?ticket=zendesk:ZD-404")
    expect()(page.locator("#notice")).to_have_text("No conversation for ticket zendesk:ZD-404 yet.")
    expect()(page.locator("#queue")).to_be_visible()


def test_an_approver_only_key_sees_the_pending_approvals_as_its_queue(
    watched: Watched, app_server: tuple[Seeded, Any]
) -> None:
    seeded, _ = app_server
    page = watched.page
    sign_in(page, seeded, "approver_only")
    expect()(page.locator("#queue-title")).to_have_text("Pending approvals")
    cards = page.locator("#queue-cards [data-approval]")
    expect()(cards).to_have_count(len(seeded.approvals))
    assert {cards.nth(i).get_attribute("data-approval") for i in range(cards.count())} == set(
        seeded.approvals.values()
    )
    expect()(cards.first.get_by_role("button", name="Approve")).to_be_visible()
    expect()(page.get_by_role("button", name="Suggest reply")).to_be_hidden()


def test_suggest_reply_streams_a_draft_with_citations_and_an_internal_passage_is_marked(
    watched: Watched, app_server: tuple[Seeded, Any]
) -> None:
    seeded, _ = app_server
    page = watched.page
    sign_in(page, seeded, "agent")
    page.get_by_label("Show all").check()
    page.locator(f"[data-conversation='{seeded.conversations['question']}']").click()
    expect()(page.locator("#conversation-title")).to_have_text(
        f"Conversation {seeded.conversations['question']}"
    )
    expect()(page.locator("#history .role-customer")).to_have_count(1)
    expect()(page.locator("#customer-body")).to_contain_text("CUS-1001")

    with page.expect_response(lambda r: r.url.endswith("/draft")) as streamed:
        page.get_by_role("button", name="Suggest reply").click()
    assert streamed.value.headers["content-type"].startswith("text/event-stream")
    expect()(page.locator("#draft-status")).to_have_text("deskpilot-offline · degraded (offline engine)")
    assert int(page.locator("#draft-text").get_attribute("data-tokens") or 0) > 5  # streamed in pieces
    draft = page.get_by_label("Draft", exact=True).input_value()
    citations = page.locator("#citations li")
    expect()(citations.first).to_be_visible()
    markers = {f"[{n}]" for n in re.findall(r"\[(\d+)\]", draft)}
    assert markers and markers == {t.split(" ", 1)[0] for t in citations.all_inner_texts()}
    # The offline engine cites the internal goodwill note here: marked on the citation and on the draft.
    internal = page.locator("#citations li", has=page.locator(".badge", has_text="Internal"))
    expect()(internal).to_have_count(1)
    expect()(internal).to_contain_text("Tent returns: goodwill exceptions — When to bend the rules")
    expect()(page.locator("#draft-internal")).to_be_visible()
    internal.get_by_role("button").click()
    expect()(page.locator("#passage-title")).to_be_focused()
    expect()(page.locator("#passage-title")).to_have_text("Tent returns: goodwill exceptions")
    expect()(page.locator("#passage-text")).to_contain_text("staff may offer store credit")
    expect()(page.locator("#passage-internal")).to_be_visible()
    expect()(page.locator("#passage-meta")).to_contain_text("internal/tent-return-exceptions.md")
    expect()(page.locator("#passage-meta a")).to_have_count(0)  # not an http(s) source: no link

    # Rewrites and the summary are labelled degraded like the draft.
    page.get_by_role("button", name="More formal").click()
    expect()(page.locator("#draft-status")).to_contain_text(
        "Rewritten (formal) · deskpilot-offline · degraded"
    )
    assert page.get_by_label("Draft", exact=True).input_value().endswith("Kind regards.")
    page.get_by_role("button", name="Shorter").click()
    expect()(page.locator("#draft-status")).to_contain_text("Rewritten (shorter)")
    page.get_by_role("button", name="Summarise").click()
    expect()(page.locator("#summary-text")).to_contain_text("Customer first wrote")
    expect()(page.locator("#summary-label")).to_have_text("deskpilot-offline · degraded (offline engine)")

    # Feedback is stored with the turn and audited.
    page.get_by_label("Reason").fill("cites an internal note")
    page.get_by_role("button", name="Bad draft").click()
    expect()(page.locator("#notice")).to_have_text("Thanks: marked as a bad draft.")
    with seeded.client("admin") as admin:
        events = admin.get(
            "/v1/audit",
            params={"conversation_id": seeded.conversations["question"], "type": "feedback.recorded"},
        ).json()
    assert [e["payload"]["rating"] for e in events] == ["down"]
    assert events[0]["payload"]["channel"] == "sidebar"

    # A newer customer message makes the draft stale; Regenerate drafts again.
    with seeded.client("agent") as client:
        sent = client.post(
            f"/v1/conversations/{seeded.conversations['question']}/messages",
            json={"content": "Also, can I exchange it for a bigger one?"},
        )
        assert sent.status_code == 200
    expect()(page.locator("#draft-stale")).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Regenerate").click()
    expect()(page.locator("#draft-stale")).to_be_hidden()
    expect()(page.locator("#draft-status")).to_contain_text("deskpilot-offline")


def test_use_draft_inside_a_helpdesk_posts_the_text_to_the_parent_frame(
    watched: Watched, app_server: tuple[Seeded, Any]
) -> None:
    seeded, _ = app_server
    page = watched.page
    src = f"{seeded.base}/sidebar?conversation={seeded.conversations['question']}"
    page.goto(f"{seeded.host.origin}/ticket?src={quote(src, safe='')}")
    frame = page.frame_locator("#sidebar")
    frame.get_by_label("API key").fill(seeded.keys["agent"])
    frame.get_by_role("button", name="Sign in").click()
    expect()(frame.locator("#conversation-title")).to_have_text(
        f"Conversation {seeded.conversations['question']}"
    )
    frame.get_by_role("button", name="Suggest reply").click()
    expect()(frame.get_by_role("button", name="Use draft")).to_be_visible()
    draft = frame.get_by_label("Draft", exact=True).input_value()
    frame.get_by_role("button", name="Use draft").click()
    expect()(page.get_by_label("Reply editor")).to_have_value(draft)
    received = page.evaluate("window.received")
    assert received == [{"origin": seeded.base, "data": {"type": "deskpilot.insert", "text": draft}}]
    expect()(frame.locator("#notice")).to_have_text("Draft sent to the helpdesk editor.")


def test_the_sidebar_refuses_to_be_framed_by_another_origin(
    browser: Any, app_server: tuple[Seeded, Any]
) -> None:
    """Only the origins in the setting may embed it: a page served by the app itself on 'localhost' is
    another origin, so its frame stays empty."""
    seeded, _ = app_server
    other = seeded.host.origin.replace("127.0.0.1", "localhost")
    context = browser.new_context()
    page = context.new_page()
    src = f"{seeded.base}/sidebar"
    page.goto(f"{other}/ticket?src={quote(src, safe='')}")
    page.wait_for_timeout(500)
    frame = page.frame(url=lambda url: url.startswith(seeded.base))
    assert frame is None or frame.locator("#sign-in-form").count() == 0
    context.close()


def test_approve_a_pending_refund_executes_it_once_and_reject_another(
    watched: Watched, app_server: tuple[Seeded, Any]
) -> None:
    seeded, engine = app_server
    page = watched.page
    order = seeded.orders["approve"]
    before = refunds_of(engine, order)
    sign_in(page, seeded, "approver", f"?conversation={seeded.conversations['approve']}")
    card = page.locator(f"[data-approval='{seeded.approvals['approve']}']")
    expect()(card).to_contain_text("issue_refund")
    expect()(card).to_contain_text(order)
    expect()(card.locator(".checks li").first).to_be_visible()
    expect()(card).to_contain_text("Expires")
    page.get_by_role("button", name="Suggest reply").click()  # refused while the refund waits
    expect()(page.locator("#draft-status")).to_contain_text("waiting for a staff member")
    card.get_by_label("Note").fill("Photos show the damage.")
    card.get_by_role("button", name="Approve").click()
    expect()(card.locator(".approval-status")).to_have_text("executed")
    expect()(card.get_by_role("button", name="Approve")).to_have_count(0)
    expect()(page.locator("#history .role-assistant").last).to_contain_text("has been issued")
    assert refunds_of(engine, order) == before + 1
    with seeded.client("admin") as admin:
        events = admin.get("/v1/audit", params={"conversation_id": seeded.conversations["approve"]}).json()
        assert admin.get("/v1/audit/verify").json()["ok"] is True
    executed = [e for e in events if e["type"] == "approval.executed"]
    assert [e["payload"]["approval_id"] for e in executed] == [seeded.approvals["approve"]]

    rejected_order = seeded.orders["reject"]
    before = refunds_of(engine, rejected_order)
    page.get_by_role("button", name="Back to queue").click()
    page.locator(f"[data-conversation='{seeded.conversations['reject']}']").click()
    card = page.locator(f"[data-approval='{seeded.approvals['reject']}']")
    card.get_by_label("Note").fill("Used item; offer a repair instead.")
    card.get_by_role("button", name="Reject").click()
    expect()(card.locator(".approval-status")).to_have_text("rejected")
    expect()(page.locator("#history .role-assistant").last).to_contain_text("declined")
    assert refunds_of(engine, rejected_order) == before


def test_a_card_decided_elsewhere_updates_and_an_agent_sees_no_buttons(
    browser: Any, watched: Watched, app_server: tuple[Seeded, Any]
) -> None:
    seeded, _ = app_server
    conversation, approval = seeded.conversations["elsewhere"], seeded.approvals["elsewhere"]
    page = watched.page
    sign_in(page, seeded, "approver", f"?conversation={conversation}")
    card = page.locator(f"[data-approval='{approval}']")
    expect()(card.get_by_role("button", name="Reject")).to_be_visible()

    agent = Watched(browser, seeded)
    sign_in(agent.page, seeded, "agent", f"?conversation={conversation}")
    expect()(agent.page.locator("#history .role-customer")).to_have_count(1)
    expect()(agent.page.locator("#approvals")).to_be_hidden()
    expect()(agent.page.get_by_role("button", name="Approve")).to_have_count(0)
    expect()(agent.page.get_by_role("button", name="Reveal PII")).to_be_hidden()
    agent.close()

    with seeded.client("approver") as other:  # another staff member, in another tool
        decided = other.post(f"/v1/approvals/{approval}", json={"decision": "reject", "note": "duplicate"})
        assert decided.status_code == 200
    expect()(card.locator(".approval-status")).to_have_text("rejected", timeout=15_000)
    expect()(card.get_by_role("button", name="Reject")).to_have_count(0)
    expect()(card).to_contain_text("duplicate")


def test_pii_is_masked_by_default_and_revealed_only_with_the_scope_and_audited(
    watched: Watched, app_server: tuple[Seeded, Any]
) -> None:
    seeded, _ = app_server
    page = watched.page
    conversation = seeded.conversations["question"]
    sign_in(page, seeded, "agent", f"?conversation={conversation}")
    customer = page.locator("#history .role-customer").first
    expect()(customer).to_contain_text("<PERSON_")
    expect()(customer).not_to_contain_text("Dana")
    expect()(page.locator("#customer-body .pii").first).to_have_text("•••• (hidden)")
    expect()(page.get_by_role("button", name="Reveal PII")).to_be_hidden()
    with seeded.client("agent") as agent:
        assert agent.post(f"/v1/conversations/{conversation}/reveal").status_code == 403

    sign_in(page, seeded, "approver", f"?conversation={conversation}")
    expect()(customer).to_contain_text("<PERSON_")
    page.get_by_role("button", name="Reveal PII").click()
    expect()(customer).to_contain_text("Dana Whitfield (dana.whitfield@example.com)")
    expect()(page.locator("#pii-state")).to_contain_text("recorded in the audit log")
    expect()(page.locator("#customer-body .pii").first).not_to_have_text("•••• (hidden)")
    page.get_by_role("button", name="Hide PII").click()
    expect()(customer).to_contain_text("<PERSON_")
    with seeded.client("admin") as admin:
        reveals = admin.get(
            "/v1/audit", params={"conversation_id": conversation, "type": "pii.revealed"}
        ).json()
    assert len(reveals) == 1 and reveals[0]["actor"]
    assert "Dana" not in str(reveals)


def test_html_and_script_in_a_customer_message_are_shown_as_text(
    watched: Watched, app_server: tuple[Seeded, Any]
) -> None:
    seeded, _ = app_server
    page = watched.page
    sign_in(page, seeded, "approver", f"?conversation={seeded.conversations['hostile']}")
    message = page.locator("#history .role-customer").first
    expect()(message).to_contain_text("<script>alert(2);")
    expect()(message).to_contain_text('onerror="alert(1)"')
    page.get_by_role("button", name="Reveal PII").click()
    expect()(page.locator("#pii-state")).to_contain_text("recorded")
    page.get_by_role("button", name="Suggest reply").click()
    expect()(page.locator("#draft-status")).to_contain_text("deskpilot-offline")
    page.wait_for_timeout(300)
    assert page.locator("#history img, #history script, #history a, #draft img").count() == 0
    assert watched.dialogs == []
    assert not watched.foreign  # nothing fetched from evil.invalid (checked again at teardown)


def test_keyboard_alone_approves_a_refund_then_suggests_a_reply(
    watched: Watched, app_server: tuple[Seeded, Any]
) -> None:
    seeded, engine = app_server
    page = watched.page
    page.goto(f"{seeded.base}/sidebar?conversation={seeded.conversations['keyboard']}")
    expect()(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(seeded.keys["approver"])
    page.keyboard.press("Enter")
    expect()(page.locator("#conversation-title")).to_be_focused()
    card = page.locator(f"[data-approval='{seeded.approvals['keyboard']}']")
    expect()(card).to_be_visible()

    def tab_to(name: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "document.activeElement && (document.activeElement.getAttribute('aria-label') "
                "|| document.activeElement.textContent.trim())"
            )
            if focused == name:
                return
        raise AssertionError(f"{name!r} is not reachable with Tab")

    tab_to("Approve")
    page.keyboard.press("Enter")
    expect()(card.locator(".approval-status")).to_have_text("executed")
    expect()(page.locator("#customer-body .refunds")).to_contain_text("RF-")  # the new refund is listed
    with seeded.client("agent") as client:  # the customer writes again; the page picks it up by itself
        asked = client.post(
            f"/v1/conversations/{seeded.conversations['keyboard']}/messages",
            json={"content": "Thanks! Also, how do I set up my new tent?"},
        )
        assert asked.status_code == 200
    expect()(page.locator("#history .role-customer")).to_have_count(2, timeout=15_000)
    page.locator("#conversation-title").focus()  # where the page puts focus after opening; start again
    tab_to("Suggest reply")
    page.keyboard.press(" ")
    expect()(page.locator("#draft-status")).to_contain_text("deskpilot-offline")
    # The copilot's tool calls show in the history: the refund that was checked, then executed.
    calls = page.locator("#history .role-assistant .tool")
    expect()(calls.filter(has_text="lookup_refund")).to_have_count(1)
    expect()(page.locator("#history .tool.status-pending_approval", has_text="issue_refund")).to_have_count(1)
    first_citation = page.locator("#citations li button").first
    expect()(first_citation).to_be_visible()
    tab_to(first_citation.inner_text())
    page.keyboard.press("Enter")
    expect()(page.locator("#passage-title")).to_be_focused()
    expect()(page.locator("#passage-internal")).to_be_hidden()
    link = page.locator("#passage-meta a")
    assert (link.get_attribute("href") or "").startswith("https://help.northbeam.example/")
    assert link.get_attribute("rel") == "noopener noreferrer"
    page.locator("#suggest").focus()
    tab_to("Use draft")
    page.keyboard.press("Enter")
    expect()(page.locator("#notice")).to_have_text("Draft copied to the clipboard.")
    assert refunds_of(engine, seeded.orders["keyboard"]) >= 1


def test_api_docs_load_offline(watched: Watched, app_server: tuple[Seeded, Any]) -> None:
    seeded, _ = app_server
    page = watched.page
    answered: list[str] = []
    page.on("response", lambda response: answered.append(response.url))
    failed: dict[str, str | None] = {}
    page.on("requestfailed", lambda request: failed.update({request.url: request.failure}))
    page.goto(f"{seeded.base}/docs")
    expect()(page.locator(".swagger-ui .info .title")).to_contain_text("Deskpilot")
    expect()(page.locator(".opblock-summary-path", has_text="/v1/me")).to_have_count(1)
    page.goto(f"{seeded.base}/redoc")
    expect()(page.get_by_role("heading", name="Deskpilot (0.1.0)", level=1)).to_be_visible(timeout=15_000)
    assert any(url.endswith("/docs-assets/redoc.standalone.js") for url in answered)
    assert [url for url in answered if not url.startswith(seeded.base)] == []
    # ReDoc's bundle asks for its logo on cdn.redoc.ly; the page's CSP stops it before it leaves.
    outside = {url: why for url, why in failed.items() if not url.startswith(seeded.base)}
    assert all(why and "csp" in why.lower() for why in outside.values()), outside
    assert watched.foreign == []


def test_a_screenshot_for_the_readme(browser: Any, app_server: tuple[Seeded, Any]) -> None:
    """Always taken and checked; written to the repository with SIDEBAR_SCREENSHOT=docs/sidebar.png."""
    seeded, _ = app_server
    opened = Watched(browser, seeded, viewport={"width": 1180, "height": 820})
    page = opened.page
    sign_in(page, seeded, "approver", f"?conversation={seeded.conversations['question']}")
    page.get_by_role("button", name="Suggest reply").click()
    expect()(page.locator("#draft-status")).to_contain_text("deskpilot-offline")
    if page.locator("#citations li button").count():
        page.locator("#citations li button").first.click()
    page.evaluate("window.scrollTo(0, 0)")
    shot = page.screenshot()
    opened.close()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) < SCREENSHOT_MAX_BYTES
    if target := os.environ.get("SIDEBAR_SCREENSHOT"):
        (REPO / target).parent.mkdir(parents=True, exist_ok=True)
        (REPO / target).write_bytes(shot)


def test_chromium_is_installed_by_ci() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    install = "apt-get install -y chromium"
    assert install in ci and ci.index(install) < ci.rindex("make test")
    assert shutil.which("chromium") or CHROMIUM.exists()
