"""Compose once per template shape: render with placeholders, prove it, then only substitute.

A verification mail is the same template with a different code each time, and rendering it in
the sandbox costs far more than the rest of the message. So for each template *shape* — the
template plus the payload's keys and value types — the template is rendered once with
placeholder values, and the output is kept per part as text with holes (subject, text, HTML);
later messages of that shape only have their values (HTML-escaped for the HTML part) put into it.
Everything after rendering (subject clean-up, size checks, text-from-HTML, header encoding,
transfer encoding) still runs on the final text, exactly as on the full path.

That is only right when the output depends on the values in nothing but where they are printed,
so a shape is cached only when two checks pass, and anything else takes the full path:
- the template, read statically, does nothing with a value but print it, test whether it is
  there (`if`, `and`, `or`, `is string`, `default`): no comparison, filter, `~`, call, loop,
  subscript or arithmetic (`sandbox.print_only`, or the Jinja-free renderer's subset);
- the proof: a second render with other placeholders (another length, other characters) equals
  the first with only the placeholders swapped, so nothing printed depends on their text.
Values must be non-empty strings (or dicts of them) without the placeholder mark: an empty value
or another type could flip a test or print differently. The full path still checks the payload
size (`build_context`) before this runs, and the placeholder renders run in the sandbox.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from markupsafe import escape

from .headers import MAX_LINE_OCTETS
from .message import alternative_body
from .shape_walk import CLOSE as _CLOSE
from .shape_walk import OPEN as _OPEN
from .shape_walk import Shape, Walked, shape_of
from .wire import Skeleton, WireFill, build_skeleton, plain_values

if TYPE_CHECKING:
    from ..config.views import TemplateView

MAX_SHAPES = 256
_PARTS_HTML = (False, False, True)  # subject, text, HTML: only the HTML part is escaped
_HTML_SPECIAL = re.compile("[&<>\"']")  # what markupsafe's `escape` replaces

RenderRaw = Callable[["TemplateView", dict[str, Any], Callable[[str], None]], "list[str] | None"]
Printable = Callable[["TemplateView"], bool]  # the static check (`sandbox.print_only`)


class _Part:
    """One part of a proven shape: the text with a hole at each slot, and which value fills it
    (`''.join` of a short list is the cheapest substitution; `str.format` is 10x slower).
    Read-only (`Final`); a plain class, not a frozen dataclass, for the import cost every
    sending process pays (see limits.py's RenderLimits)."""

    __slots__ = ("fixed", "fixed_size", "per_line", "pieces", "slots")

    def __init__(
        self,
        pieces: tuple[str, ...],
        slots: tuple[tuple[int, int], ...],  # (index into pieces, index of the value)
        # Longest line without its values, and most values on one line: with them, whether any
        # line can pass 998 octets is known without splitting the filled text into lines.
        fixed: int = 0,
        per_line: int = 0,
        fixed_size: int = 0,  # characters outside the holes
    ) -> None:
        self.pieces: Final = pieces
        self.slots: Final = slots
        self.fixed: Final = fixed
        self.per_line: Final = per_line
        self.fixed_size: Final = fixed_size

    def fill(self, values: Sequence[str]) -> str:
        if not self.slots:
            return self.pieces[0]
        out = list(self.pieces)
        for position, value in self.slots:
            out[position] = values[value]
        return "".join(out)

    def fits(self, values: list[str], longest_value: int, limit: int) -> bool:
        """Whether `fill(values)` has at most `limit` characters, known without building it
        (and, for the usual short values, without adding their lengths up)."""
        if self.fixed_size + len(self.slots) * longest_value <= limit:
            return True
        return self.fixed_size + sum([len(values[value]) for _, value in self.slots]) <= limit

    def short_lines(self, longest_value: int) -> bool:
        """True when no line of the filled text can be over `MAX_LINE_OCTETS` characters (a
        value's line break or CR only makes lines shorter)."""
        return self.fixed + self.per_line * longest_value <= MAX_LINE_OCTETS


class _Composed:
    """One proven shape: subject, text and HTML parts (values numbered in payload order).
    Read-only but for `skeleton`; a plain class, as `_Part`."""

    __slots__ = ("alternative", "bound", "parts", "skeleton", "template", "watched")

    def __init__(
        self,
        template: TemplateView,
        parts: tuple[_Part, _Part, _Part] | None,  # None: proven not cacheable, full path
        # Of the output strings the sandbox measured in the placeholder render: the most fixed
        # characters and the most values in one (values may be HTML-escaped in captured blocks).
        watched: tuple[int, int] = (0, 0),
        # The longest value (raw or HTML-escaped) for which every size and line-length check
        # passes (`shape_bound`): one comparison per message instead of five checks; -1: none.
        bound: int = -1,
        # The template has a text and an HTML part (`_filled` asks it for every message; the
        # sources are properties over pydantic fields, read here once per shape).
        alternative: bool = False,
    ) -> None:
        self.template: Final = template
        self.parts: Final = parts
        self.watched: Final = watched
        self.bound: Final = bound
        self.alternative: Final = alternative
        # The body's wire skeleton (compose/wire.py), built on first use: [] not yet, [None] none.
        self.skeleton: Final[list[Skeleton | None]] = []


class ShapeCache:
    """Per-renderer LRU of proven template shapes (`MAX_SHAPES`). `pieces()` answers the raw
    subject/text/HTML for a context, or None when the full path must render it."""

    def __init__(
        self, render: RenderRaw, printable: Printable, max_chars: int, maxsize: int = MAX_SHAPES
    ) -> None:
        self._render, self._is_printable = render, printable
        # Parts over a quarter of the output limit are left to the full path, whose streaming
        # render stops at the limit and reports it; measured before anything is built. So is
        # any string the sandbox would have measured (a captured `{% set %}` block, say) that
        # could pass the limit with this message's values.
        self._max_part = max_chars // 4
        self._max_chars = max_chars
        self._maxsize = maxsize
        self._shapes: OrderedDict[tuple[int, Shape], _Composed] = OrderedDict()
        self._printable: dict[int, tuple[TemplateView, bool]] = {}
        # (shape, template, composed) of the last lookup, so the newest entry of `_shapes`:
        # reset whenever `_shapes` changes otherwise (`_compose`, `forget`).
        self._last: tuple[Shape, TemplateView, _Composed] | None = None
        self.hits = self.misses = 0
        self.fallbacks: Counter[str] = Counter()  # why messages took the full path

    def cache_info(self) -> dict[str, Any]:
        """Hits, misses (a shape composed), the cached shapes, and fallbacks by reason."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "size": len(self._shapes),
            "maxsize": self._maxsize,
            "fallbacks": dict(self.fallbacks),
        }

    def forget(self, templates: Sequence[TemplateView]) -> None:
        """Drop the shapes of templates that will not be rendered again (a template provider's
        old texts); a shape is only ever used for its own template object (identity is
        checked), so this frees memory and is never needed for correctness."""
        gone = {id(template) for template in templates}
        self._last = None
        for key in [key for key in list(self._shapes) if key[0] in gone]:
            self._shapes.pop(key, None)
        for ident in gone:
            self._printable.pop(ident, None)

    def pieces(
        self, template: TemplateView, context: Mapping[str, Any], walked: Walked | None = None
    ) -> Filled | None:
        """`walked`: the context's shape and values as `shaped_context` found them (None: the
        context is walked here)."""
        if walked is None:
            values: list[str] = []
            shape = shape_of(context, values)
        else:
            shape, values = walked
        if shape is None:
            self.fallbacks["payload"] += 1
            return None
        last = self._last
        if last is not None and last[1] is template and last[0] == shape:
            # The shape of the last lookup: the newest of the LRU already, nothing to look
            # up (hashing the shape) or move (hashing it again).
            composed = last[2]
            self.hits += 1
        else:
            key = (id(template), shape)
            found = self._shapes.get(key)
            if found is None or found.template is not template:
                composed = self._compose(template, shape)
                self.misses += 1
            else:
                composed = found
                # Evicted meanwhile by another thread (send_sync callers)? Nothing to move.
                # A try costs nothing on the hit path; `suppress` is a context manager.
                try:  # noqa: SIM105
                    self._shapes.move_to_end(key)
                except KeyError:
                    pass
                self.hits += 1
            self._last = (shape, template, composed)
        if composed.parts is None:
            self.fallbacks["template"] += 1
            return None
        subject, text, html = composed.parts
        joined = "".join(values)  # once, for the escape search and the skeleton's check
        escaped = values  # the usual values (digits, names) need no escaping: one search
        if html.slots and _HTML_SPECIAL.search(joined) is not None:
            escaped = [_escape(value) for value in values]
        longest = max(map(len, values), default=0)
        longest_html = max(map(len, escaped), default=0) if escaped is not values else longest
        if max(longest, longest_html) <= composed.bound:  # every check below holds
            return _filled(composed, values, escaped, joined)
        limit = self._max_part
        fixed, count = composed.watched
        if not (
            subject.fits(values, longest, limit)
            and text.fits(values, longest, limit)
            and html.fits(escaped, longest_html, limit)
            and fixed + count * max(longest, longest_html) <= self._max_chars
        ):
            self.fallbacks["size"] += 1
            return None
        short_text, short_html = text.short_lines(longest), html.short_lines(longest_html)
        if short_text and short_html:
            return _filled(composed, values, escaped)
        text_out, html_out = text.fill(values), html.fill(escaped)
        short = (text_out,) if short_text else (html_out,) if short_html else ()
        return Filled([subject.fill(values), text_out, html_out], short, None)

    def _compose(self, template: TemplateView, shape: Shape) -> _Composed:
        watched = [0, 0]
        parts = self._prove(template, shape, watched) if self._print_only(template) else None
        bounds = (watched[0], watched[1])
        bound = -1 if parts is None else shape_bound(parts, bounds, self._max_part, self._max_chars)
        alternative = template.text_source is not None and bool(template.html_source)
        composed = _Composed(template, parts, bounds, bound, alternative=alternative)
        self._last = None
        self._shapes[(id(template), shape)] = composed
        while len(self._shapes) > self._maxsize:
            try:
                self._shapes.popitem(last=False)
            except KeyError:  # emptied meanwhile by another thread
                break
        return composed

    def _print_only(self, template: TemplateView) -> bool:
        known = self._printable.get(id(template))
        if known is not None and known[0] is template:
            return known[1]
        try:
            verdict = self._is_printable(template)
        except Exception:  # a template that does not parse: the full path reports it
            verdict = False
        if len(self._printable) >= self._maxsize:
            self._printable.clear()  # a new config, or a provider's changing templates
        self._printable[id(template)] = (template, verdict)
        return verdict

    def _prove(
        self, template: TemplateView, shape: Shape, watched: list[int]
    ) -> tuple[_Part, _Part, _Part] | None:
        nonce_a, nonce_b = secrets.token_hex(4), secrets.token_hex(7)  # lengths differ too
        marks = re.compile(f"{_OPEN}&(?:amp;)?{nonce_a}[0-9]+{_CLOSE}")

        def watch(value: str) -> None:
            count = value.count(_OPEN)
            if count:
                watched[0] = max(watched[0], len(marks.sub("", value)))
                watched[1] = max(watched[1], count)

        first = self._render(template, _placeholders(shape, nonce_a), watch)
        second = self._render(template, _placeholders(shape, nonce_b), lambda value: None)
        if first is None or second is None or len(first) != 3 or len(second) != 3:
            return None
        parts = []
        for html, out_a, out_b in zip(_PARTS_HTML, first, second, strict=True):
            split = _split(out_a, nonce_a, html)
            if split is None or _join(*split, _marks(nonce_b, html)) != out_b:
                return None
            parts.append(_part(*split))
        return parts[0], parts[1], parts[2]


class Filled(NamedTuple):
    """A shape filled with one message's values: the raw parts, and those of them known to
    have no line over 998 characters (the MIME step then skips measuring them). With `wire`,
    the text and HTML pieces are None: the wire fill gives them when they are read."""

    pieces: list[str | None]
    short_lines: tuple[str, ...]
    wire: WireFill | None = None  # the body from the shape's wire skeleton, when it can be


_new_fill = object.__new__
_new_filled = tuple.__new__  # `Filled(...)` without its Python-level `__new__`: one a message


def _filled(
    composed: _Composed, values: list[str], escaped: list[str], joined: str | None = None
) -> Filled:
    """A message whose text and HTML parts both have short lines: through the shape's wire
    skeleton when it can be (its text and HTML then filled only if read), else filled now.
    `joined`: `"".join(values)`, when the caller has it."""
    parts = composed.parts
    assert parts is not None
    subject = parts[0].fill(values)
    if composed.alternative:  # the template's text and HTML sources, as read once per shape
        wire = _wire_fill(composed, values, escaped, joined)
        if wire is not None:
            return _new_filled(Filled, ([subject, None, None], (), wire))
    text_out, html_out = parts[1].fill(values), parts[2].fill(escaped)
    return Filled([subject, text_out, html_out], (text_out, html_out), None)


def _wire_fill(
    composed: _Composed, values: list[str], escaped: list[str], joined: str | None = None
) -> WireFill | None:
    """This message's body through the shape's skeleton (built once), when every value can
    travel in one (`wire.plain_value`); None: the message composes its body in full."""
    parts = composed.parts
    assert parts is not None
    if not plain_values(values, joined):
        return None
    if not composed.skeleton:
        skeleton = build_skeleton(parts[1], parts[2], len(values), alternative_body)
        composed.skeleton[:] = [skeleton]
    skeleton = composed.skeleton[0]
    if skeleton is None:
        return None
    fill = _new_fill(WireFill)  # `WireFill(...)` without its `__init__`, as `_finish` does
    fill.skeleton, fill.values, fill.parts = skeleton, (*values, *escaped), (parts[1], parts[2])
    fill.text_filled = fill.html_filled = None
    return fill


def _escape(value: str) -> str:
    """markupsafe's escape (what autoescape does), skipped when there is nothing to escape."""
    if "&" in value or "<" in value or ">" in value or '"' in value or "'" in value:
        return str(escape(value))
    return value


def _placeholder(index: int, nonce: str) -> str:
    return f"{_OPEN}&{nonce}{index}{_CLOSE}"  # `&`: the HTML part shows whether it was escaped


def _placeholders(shape: Shape, nonce: str, counter: list[int] | None = None) -> dict[str, Any]:
    counter = counter if counter is not None else [0]
    context: dict[str, Any] = {}
    for item in shape:
        if isinstance(item, tuple):
            context[item[0]] = _placeholders(item[1], nonce, counter)
        else:
            context[item] = _placeholder(counter[0], nonce)
            counter[0] += 1
    return context


def _marks(nonce: str, html: bool) -> Callable[[int], str]:
    def mark(index: int) -> str:
        text = _placeholder(index, nonce)
        return str(escape(text)) if html else text

    return mark


def _split(output: str, nonce: str, html: bool) -> tuple[list[str], list[int]] | None:
    """Segments between the placeholders and the value index of each; None when a mark shows
    up any other way (cut, transformed, or raw in the HTML part)."""
    amp = "&amp;" if html else "&"
    pieces = re.split(f"{_OPEN}{re.escape(amp + nonce)}([0-9]+){_CLOSE}", output)
    segments, slots = pieces[0::2], [int(index) for index in pieces[1::2]]
    if any(_OPEN in segment or _CLOSE in segment for segment in segments):
        return None
    return segments, slots


def _join(segments: list[str], slots: list[int], mark: Callable[[int], str]) -> str:
    out = [segments[0]]
    for slot, segment in zip(slots, segments[1:], strict=True):
        out += [mark(slot), segment]
    return "".join(out)


def _part(segments: list[str], slots: list[int]) -> _Part:
    pieces = [segments[0]]
    holes = []
    for slot, segment in zip(slots, segments[1:], strict=True):
        holes.append((len(pieces), slot))
        pieces += ["", segment]
    fixed, per_line = _line_bound(segments)
    return _Part(tuple(pieces), tuple(holes), fixed, per_line, sum(map(len, pieces)))


def _line_bound(segments: list[str]) -> tuple[int, int]:
    """The longest line's fixed characters and the most values on one line (a value sits
    between each two segments)."""
    fixed = per_line = line = values = 0
    for index, segment in enumerate(segments):
        if index:
            values += 1
        *ended, last = segment.split("\n")
        for text in ended:
            fixed, per_line = max(fixed, line + len(text)), max(per_line, values)
            line = values = 0
        line += len(last)
    return max(fixed, line), max(per_line, values)


def shape_bound(
    parts: tuple[_Part, _Part, _Part], watched: tuple[int, int], max_part: int, max_chars: int
) -> int:
    """The longest value for which `pieces`' five checks all pass (each part within
    `max_part`, the watched outputs within `max_chars`, text and HTML lines within
    `MAX_LINE_OCTETS`), worked out once per shape; -1 when no value length passes them all."""
    limits = [(part.fixed_size, len(part.slots), max_part) for part in parts]
    limits += [(part.fixed, part.per_line, MAX_LINE_OCTETS) for part in parts[1:]]
    limits.append((watched[0], watched[1], max_chars))
    bound = max_chars
    for fixed, per_value, limit in limits:
        if fixed > limit:
            return -1
        if per_value:
            bound = min(bound, (limit - fixed) // per_value)
    return bound
