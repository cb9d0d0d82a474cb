"""`part`: a `Service` attribute built, and its module imported, the first time it is read.

What only an admin's request uses (definitions, checks, templates) need not be in memory in a
`serve` that only sends: a `part` builds it on first read and keeps it in the instance, so
every later read is a plain attribute lookup. Building runs no `await`: two first requests on
the event loop cannot both build one, nor see it half built. A module that cannot be imported
(a broken install) is reported as a `ServiceError` (HTTP 500 `internal_error`) naming it, in
the caller's terms, not as a traceback; the next read tries again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from smtp_connector.errors import secret_safe_logger

from .errors import ServiceError

T = TypeVar("T")
log = secret_safe_logger("smtp_connector.store")


class part(Generic[T]):  # lower case: a decorator, like `property`
    def __init__(self, build: Callable[[Any], T]) -> None:
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> part[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> part[T] | T:
        if instance is None:
            return self
        try:
            value = self.build(instance)
        except ImportError as exc:
            missing = exc.name or "a module"
            log.error("could not load the service's %s (%s): %s", self.name, missing, exc)
            raise ServiceError(
                "broken",
                f"This server could not load its {self.name} ({type(exc).__name__}: "
                f"{missing}); its installation is incomplete: reinstall smtp-connector.",
                label="internal_error",
            ) from None
        vars(instance)[self.name] = value  # read from the instance from now on
        return value
