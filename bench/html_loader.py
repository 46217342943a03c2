"""HTML loading on large and deeply nested pages: seconds per page and megabytes a second (one pass)."""

from __future__ import annotations

import time

from knowledge.loaders import load_document

WRAPPER = b'<div class="card"><section><div><span class="x">' * 40 + b"</span></div></section></div>" * 40
PAGES = {
    "9 MB, mostly markup": b"<h1>Returns</h1>"
    + (b'<div class="row"><p>Returns within <b>30 days</b>.</p>' + WRAPPER + b"</div>\n") * 2_500,
    "20,000 levels of <div>": b"<div>" * 20_000 + b"<p>Deep text.</p>" + b"</div>" * 20_000,
    "30,000 unclosed <li>": b"<ul>" + b"<li>item " * 30_000 + b"</ul>",
}


def main() -> None:
    print("HTML loader (knowledge/loaders.py)")
    for label, page in PAGES.items():
        started = time.perf_counter()
        load_document("page.html", page)
        seconds = time.perf_counter() - started
        megabytes = len(page) / 1e6
        print(f"  {label:<26} {megabytes:5.1f} MB  {seconds:6.2f} s  {megabytes / seconds:5.1f} MB/s")


if __name__ == "__main__":
    main()
