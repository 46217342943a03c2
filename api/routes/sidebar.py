"""The support-agent sidebar page at /sidebar and its files, served from the package with a strict CSP."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import RuntimeDep
from api.errors import NotFoundError
from api.sidebar.page import MEDIA_TYPES, asset_path, render_index, security_headers

router = APIRouter(tags=["sidebar"], include_in_schema=False)


@router.get("/sidebar")
def sidebar_page(runtime: RuntimeDep) -> Response:
    ancestors = runtime.settings.sidebar_frame_ancestors
    return Response(
        render_index(ancestors),
        media_type=MEDIA_TYPES[".html"],
        headers={**security_headers(ancestors), "Cache-Control": "no-store"},
    )


@router.get("/sidebar/{name:path}")
def sidebar_asset(name: str, runtime: RuntimeDep) -> Response:
    path = asset_path(name)
    if path is None:
        raise NotFoundError(f"/sidebar/{name} not found")
    return Response(
        path.read_bytes(),
        media_type=MEDIA_TYPES[path.suffix],
        headers={**security_headers(runtime.settings.sidebar_frame_ancestors), "Cache-Control": "no-cache"},
    )
