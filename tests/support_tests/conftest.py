"""Makes the OpenAI test server fixtures available here until the root conftest registers them as a plugin."""

import sys

# The root conftest lists `tests.support.fixtures` in `pytest_plugins`; importing the fixtures again here
# would start a second session server, so only do it when the plugin is not loaded.
if "tests.support.fixtures" not in sys.modules:
    from tests.support.fixtures import openai_stub, openai_stub_server  # noqa: F401
