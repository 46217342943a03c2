"""/docs and /redoc with Swagger UI and ReDoc served from the package (fastapi-offline ships the files),
so an air-gapped team sees the API docs too."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
PREFIX = "/docs-assets"
# Both pages inline a little script and style of their own, so only what they fetch is pinned here:
# ReDoc's bundle also shows a logo from cdn.redoc.ly, which this keeps from being requested.
DOCS_POLICY = "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'self'"


def install_docs(app: FastAPI) -> None:
    app.mount(PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")
    app.include_router(_router(app))


def _router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _pinned(
            get_swagger_ui_html(
                openapi_url=root + (app.openapi_url or "/openapi.json"),
                title=f"{app.title} - API docs",
                swagger_js_url=f"{root}{PREFIX}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{PREFIX}/swagger-ui.css",
                swagger_favicon_url=f"{root}{PREFIX}/favicon.png",
                oauth2_redirect_url=root + "/docs/oauth2-redirect",
            )
        )

    @router.get("/docs/oauth2-redirect")
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get("/redoc")
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _pinned(
            get_redoc_html(
                openapi_url=root + (app.openapi_url or "/openapi.json"),
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{PREFIX}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{PREFIX}/favicon.png",
                with_google_fonts=False,
            )
        )

    return router


def _pinned(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page
