"""Image inputs (screenshots, receipts, damage photos): validated, passed to the model, audited by hash."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=\s]+)$", re.DOTALL)
Detail = Literal["low", "high", "auto"]


class ImageError(ValueError):
    """The image cannot be accepted; the message says why."""


class ImageTooLarge(ImageError):
    pass


@dataclass(frozen=True)
class ImageRef:
    url: str  # https URL or data URL, passed to the model as is
    detail: Detail
    sha256: str  # of the decoded bytes (data URL) or of the URL (remote image)
    size_bytes: int | None  # None for a remote image: we never fetch it
    media_type: str | None

    def audit_record(self) -> dict[str, Any]:
        """What the audit trail keeps: never the content."""
        return {
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "media_type": self.media_type,
            "remote": self.size_bytes is None,
            "detail": self.detail,
        }

    def message_part(self) -> dict[str, Any]:
        return {"type": "image_url", "image_url": {"url": self.url, "detail": self.detail}}


def parse_image(url: str, *, detail: Detail, max_bytes: int) -> ImageRef:
    url = url.strip()
    if url.startswith("https://"):
        if len(url) > 2048 or any(c.isspace() for c in url):
            raise ImageError("image_url must be a single https URL of at most 2048 characters")
        return ImageRef(url, detail, hashlib.sha256(url.encode()).hexdigest(), None, None)
    match = DATA_URL.match(url)
    if match is None:
        raise ImageError(
            "image_url must be an https URL or a base64 data URL of a png, jpeg, gif or webp image"
        )
    if len(match.group(2)) * 3 // 4 > max_bytes:
        raise ImageTooLarge(f"image is larger than the {max_bytes} byte limit")
    try:
        data = base64.b64decode(match.group(2), validate=False)
    except (binascii.Error, ValueError) as error:
        raise ImageError("image data is not valid base64") from error
    if not data:
        raise ImageError("image data is empty")
    if len(data) > max_bytes:
        raise ImageTooLarge(f"image is {len(data)} bytes; the limit is {max_bytes}")
    return ImageRef(url, detail, hashlib.sha256(data).hexdigest(), len(data), match.group(1))
