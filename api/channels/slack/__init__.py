"""Slack: a bolt app per integration, Block Kit, its jobs, and the alerts-only sweep."""
