"""The soak's local model: `bench.model_server`'s script after DELAY_S, or the failure named in MODE_FILE.

`python -m bench.soak_model DELAY_S MODE_FILE` prints its base URL. MODE_FILE holds `ok`, `429`, `500` or
`hang` and is read at most every 0.2 s, so the soak switches the model's behaviour from outside.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from bench.model_server import Recordless, answer
from tests.support.openai_items import Fail, Hang, Item


class Mode:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.value = "ok"
        self.read_at = 0.0

    def __call__(self) -> str:
        if time.monotonic() - self.read_at > 0.2:
            self.read_at = time.monotonic()
            try:
                self.value = self.path.read_text().strip() or "ok"
            except OSError:
                self.value = "ok"
        return self.value


def main() -> None:
    delay = float(sys.argv[1])
    mode = Mode(Path(sys.argv[2]))

    def default(body: dict[str, Any]) -> Item:
        current = mode()
        if current == "429":
            return Fail(429, retry_after=1)
        if current == "500":
            return Fail(500)
        if current == "hang":
            return Hang(600)
        return Hang(delay, then=answer(body)) if delay else answer(body)

    stub = Recordless(default=default).start()
    print(stub.base_url, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
