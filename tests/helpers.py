"""Small helpers shared by test modules."""

from __future__ import annotations


def sse_events(raw: str) -> list[tuple[str, str]]:
    """Parses a Server-Sent Events body into (event, data) pairs."""
    events = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        kind, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            events.append((kind, "\n".join(data)))
    return events
