"""The key a payload check's verdict is remembered under (`requirements.py`): everything about
the values a template reads that could change which undefined names its render prints.

For each name the template reads, the key holds the value's type and truth; for the names whose
value steers the render beyond that (`recording.valued_names`: compared, indexed, iterated,
filtered, passed to a macro …), the values themselves, as `marshal` writes them (in C, one call
per send): marshal writes the exact type of every value (1, 1.0 and True, -0.0 and 0.0, a list
and a tuple all differ, where a dict key would take them as equal), dict items in order, and
refuses subclasses and objects of their own types. Equal bytes are equal values of the same
types, which render through the same branches and loops and so print the same undefined names.
A payload with a value of another type, or steering values over `MAX_BYTES`, gets no key: the
check renders it.

Keys are bounded (a few types and flags per name read, at most `MAX_BYTES` of values), so the
verdicts a connector keeps (at most `requirements.MAX_VERDICTS`) stay small whatever callers
send.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable
from typing import Any

MAX_BYTES = 4096  # steering values larger than this are rendered, not remembered
# The types whose truth and text are the same for every value of the same (type, truth) as far
# as a verdict goes, and whose `bool()` runs no code of a caller's.
SAFE_TYPES = frozenset({str, int, float, bool, type(None), dict, list, tuple})
_VERSION = 2  # no back-references: equal values give equal bytes whatever objects they share


def verdict_key(
    template_id: int,
    values: tuple[Any, ...],
    types: tuple[type, ...],
    steering: Callable[[tuple[Any, ...]], Any] | None,
) -> tuple[Any, ...] | None:
    """The key for `values` (the context's value of each name the template reads, None when
    absent; `types`, their types) or None when there is none; `steering` picks the values of
    the names whose value steers the render (an `operator.itemgetter`; None: there are none)."""
    if not SAFE_TYPES.issuperset(types):
        return None
    truths = tuple(map(bool, values))
    if steering is None:
        return (template_id, types, truths)
    try:
        frozen = marshal.dumps(steering(values), _VERSION)
    except ValueError:  # a subclass or an object of its own type, or nested too deep
        return None
    return (template_id, types, truths, frozen) if len(frozen) <= MAX_BYTES else None
