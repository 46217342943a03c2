"""The sidebar page and its files, with the security headers of every response they make.

Scripts, styles and connections come from our own origin only: no inline script or style, no eval, no
CDN. `frame-ancestors` comes from the `sidebar_frame_ancestors` setting, so only the team's helpdesk can
embed the page, and the same list tells the page which parent may receive a "Use draft" message.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_ASSET = re.compile(r"^[a-z0-9_-]+(/[a-z0-9_-]+)?\.(js|css|svg)$")


def content_security_policy(frame_ancestors: str) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def security_headers(frame_ancestors: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(frame_ancestors),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }


def parent_origins(frame_ancestors: str) -> str:
    """The origins (and `*.host` patterns) a parent frame may have; 'self' stays for the page to resolve."""
    return " ".join(
        source
        for source in frame_ancestors.split()
        if source == "'self'" or re.match(r"^https?://[a-z0-9.*:-]+$", source, re.IGNORECASE)
    )


def render_index(frame_ancestors: str) -> str:
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return template.replace("{{parent_origins}}", escape(parent_origins(frame_ancestors), quote=True))


def asset_path(name: str) -> Path | None:
    """A file of the page by its name; anything outside the allow-listed shape is not found."""
    if not _ASSET.match(name):
        return None
    path = STATIC_DIR / name
    return path if path.is_file() else None
