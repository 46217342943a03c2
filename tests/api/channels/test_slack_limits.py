"""Slack events a minute per integration and per Slack user: 429 with Retry-After (Slack retries later)."""

from __future__ import annotations

from typing import Any

from tests.api.channels.test_slack import Workspace, mention, slack, slack_server, slack_settings  # noqa: F401
from tests.conftest import make_client


def test_one_slack_user_flooding_the_bot_is_limited_and_others_are_not(
    slack_settings: Any,  # noqa: F811 - the fixture imported above
    seeded_engine: Any,
    slack: Any,  # noqa: F811
) -> None:
    limited = slack_settings.model_copy(
        update={"sender_rate_limit_per_minute": 2, "integration_rate_limit_per_minute": 4}
    )
    with make_client(limited, seeded_engine) as client:
        workspace = Workspace(client, seeded_engine, slack)
        flood = [workspace.send(mention("hello", user="U0FLOOD")) for _ in range(3)]
        other = workspace.send(mention("hello", user="U0CALM"))
        another = workspace.send(mention("hello", user="U0THIRD"))
        past_integration = workspace.send(mention("hello", user="U0FOURTH"))
    assert [r.status_code for r in flood[:2]] == [200, 200]
    assert flood[2].status_code == 429 and flood[2].json()["error"]["details"]["scope"] == "sender"
    assert int(flood[2].headers["Retry-After"]) >= 1
    assert other.status_code == 200
    # The integration's minute counts every signed event: 6 so far against 4.
    assert another.status_code == 429 and another.json()["error"]["details"]["scope"] == "integration"
    assert past_integration.status_code == 429
