"""One way to run an asyncio program here: on uvloop, whose loop and transports are a good
deal faster than asyncio's own for many small HTTP requests."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import uvloop


def run(main: Coroutine[Any, Any, Any]) -> Any:
    return uvloop.run(main)
