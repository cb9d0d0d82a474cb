"""The garbage collector around `serve`'s start.

Start-up builds a few hundred thousand long-lived objects (FastAPI's routes and models,
pydantic validators, SQLAlchemy's tables and statements, compiled templates; the ORM's
mappers come later, with the first admin request: store/schema.py). CPython's full collections
walk all of them: during start-up (two or three passes, ~100 ms together on this 2-core
machine) and later under load, where one gen2 pass paused every request for 50–80 ms, the
p99 of a direct send (issue 26). So `serve` turns automatic collection off while it starts
(cli/serve_cmd.py, before its imports), and once the app is up `settle` moves every object
alive into the permanent generation (`gc.freeze`: later collections never walk them again),
raises the young threshold (a send allocates thousands of objects; CPython's 700 meant a
collection every request or so) and turns collection back on. Reference counting frees
frozen objects as usual; only garbage cycles made during start-up stay, a bounded one-off.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def settle() -> None:
    """Freeze what start-up built, raise the young threshold, collect automatically again."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.enable()
