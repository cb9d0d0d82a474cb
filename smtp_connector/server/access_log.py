"""uvicorn's access log without query strings.

uvicorn logs the full request target; a query string can carry a secret (privacyIDEA's
clients may put any parameter there, and a mistaken `?password=` must not land in a log
file), so only the path is logged.
"""

from __future__ import annotations

import logging


class HideQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def hide_query_strings() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, HideQueryStrings) for f in logger.filters):
        logger.addFilter(HideQueryStrings())
