"""Template rendering: a chosen template + payload → subject, text, HTML.

Templates come from untrusted admins (a Logto console) and values from untrusted users, so
rendering is sandboxed Jinja, HTML autoescaped, and no value can add a line to a header.
Compiled templates are cached per connector: compiling costs ~100x more than rendering.
A template within `plain.py`'s subset (the shipped ones, most users' own) is rendered without
Jinja, to the same text; Jinja is imported only when a template needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..addresses import CONTROL_RUNS
from ..errors import ConnectorError
from .html_text import html_to_text
from .limits import RenderLimits, TemplateLimitError, render_budget, watching
from .payload import build_context, normalise_context, require_mapping
from .plain import Node, compile_part, read_names
from .plain import render as render_plain
from .render_errors import is_limit_error, limit_error, syntax_error, template_error, too_deep
from .shape_walk import shaped_owned
from .shapes import ShapeCache
from .sources import SEPARATOR, combined_source, part_source, shorthand_to_jinja
from .wire import WireFill

if TYPE_CHECKING:  # Jinja is loaded by the first template outside plain.py's subset
    from jinja2 import Template as JinjaTemplate

    from ..config.views import TemplateView
    from .sandbox import StrictSandbox

PlainParts = tuple[list[Node], list[Node], list[Node]]
__all__ = ["RenderedBodies", "Renderer", "clean_header_text", "is_limit_error"]

_new = object.__new__


@dataclass(slots=True)
class RenderedBodies:
    """What a template produced for one payload, before addressing. (One per message: not
    frozen, whose `__init__` costs four times a plain slotted one's.)"""

    subject: str
    text: str | None  # with `wire`: None, the wire fill gives both parts when they are read
    html: str | None
    template: TemplateView
    short_lines: tuple[str, ...] = ()  # parts known to have no line over 998 characters
    wire: WireFill | None = None  # the body as the shape's wire skeleton fills it


class Renderer:
    """Sandboxed Jinja (text: no escaping; HTML: autoescape) with a compile cache.

    Subject, text and HTML are compiled into one template (the HTML inside an autoescape
    block) so a message costs one Jinja context and one render call instead of three. Each part
    is parsed alone first, so a syntax error names its part and line. Templates within
    `plain.py`'s subset render without Jinja (`plain_templates`: False, for tests, turns that
    off), through the same size checks, shape cache and finishing.
    """

    plain_templates = True

    def __init__(
        self,
        max_payload_bytes: int = 64 * 1024,
        limits: RenderLimits | None = None,
        *,
        compose_cache: bool = True,
    ) -> None:
        self.limits = limits or RenderLimits()
        self._envs: list[StrictSandbox] = []  # text, HTML: built when a template needs Jinja
        self._plain: dict[int, tuple[TemplateView, PlainParts | None]] = {}
        self._compiled: dict[int, tuple[TemplateView, JinjaTemplate]] = {}
        # One-line templates (a template's `sendFrom`/`replyTo`) by (template, field).
        self._lines: dict[tuple[int, str], tuple[TemplateView, JinjaTemplate]] = {}
        self.max_payload_bytes = max_payload_bytes
        self._tree: tuple[TemplateView, Any] | None = None  # the last `_parse`, for `_combined`
        # Compose once per template shape (`shapes.py`); None renders every message in full.
        self.shapes = (
            ShapeCache(self._render_placeholders, self._printable, self.limits.max_chars)
            if compose_cache
            else None
        )

    @property
    def _text_env(self) -> StrictSandbox:
        return self._jinja()[0]

    @property
    def _html_env(self) -> StrictSandbox:
        return self._jinja()[1]

    def _jinja(self) -> list[StrictSandbox]:
        if not self._envs:
            from .sandbox import strict_sandbox

            self._envs[:] = [strict_sandbox(self.limits, html) for html in (False, True)]
        return self._envs

    def plain(self, template: TemplateView) -> PlainParts | None:
        """The template's parts compiled for `plain.py`, or None when it needs Jinja."""
        cached = self._plain.get(id(template))
        if cached is not None and cached[0] is template:
            return cached[1]
        sources = [shorthand_to_jinja(part_source(template, part)) for part in _PARTS]
        subject, text, html = map(compile_part, sources)
        compiled = None
        # An HTML part ending in "{" would open a tag with Jinja's `{% endautoescape %}`
        # (`_combined_source`): Jinja reports that, so it renders it.
        joins = sources[2].endswith("{")
        if (
            self.plain_templates
            and subject is not None
            and text is not None
            and html is not None
            and not joins
        ):
            compiled = (subject, text, html)
        if len(self._plain) >= MAX_COMPILED:
            self._plain.clear()
        self._plain[id(template)] = (template, compiled)
        return compiled

    def _printable(self, template: TemplateView) -> bool:
        """The shape cache's static check: a plain template prints and tests values only."""
        if self.plain(template) is not None:
            return True
        from .sandbox import print_only

        return print_only(self._parse(template))

    def render(self, template: TemplateView, payload: Mapping[str, Any]) -> RenderedBodies:
        if type(payload) is not dict:  # a dict (what `render` hands over) needs no call
            require_mapping(payload)
        return self.render_context(template, dict(payload))

    def render_context(self, template: TemplateView, context: dict[str, Any]) -> RenderedBodies:
        """`render` of a dict of the caller's own, copied from a payload and not checked yet
        (the composer's `_context`): checked and normalised in place, and with the shape cache
        on, walked once for its size and its shape."""
        shapes = self.shapes
        if shapes is None:
            context = normalise_context(context, self.max_payload_bytes)
        else:
            context, walked = shaped_owned(context, self.max_payload_bytes)
            filled = shapes.pieces(template, context, walked)
            if filled is not None:  # None: not a proven shape, or near the output limits
                pieces, short = filled.pieces, filled.short_lines
                return self._finish(template, context, pieces, short, filled.wire, sized=True)
        try:
            with render_budget(self.limits):
                return self._render_bounded(template, context)
        except (TemplateLimitError, RecursionError) as exc:
            raise limit_error(template, exc) from None

    def render_line(
        self, template: TemplateView, field: str, source: str, context: Mapping[str, Any]
    ) -> str:
        """Render a one-line template of `template` (its `sendFrom` or `replyTo`, named
        `field`) in the same sandbox and limits as the body: text, no escaping. The caller
        checks what comes out (an address, so a line break in a value is refused there)."""
        compiled = self.compile_line(template, field, source)
        try:
            with render_budget(self.limits):
                values = build_context(context, self.max_payload_bytes)
                return "".join(self._stream(compiled, values))
        except (TemplateLimitError, RecursionError) as exc:
            raise limit_error(template, exc) from None
        except ConnectorError:
            raise
        except Exception as exc:
            raise template_error(template, field, f"{type(exc).__name__}: {exc}") from None

    def compile_line(self, template: TemplateView, field: str, source: str) -> JinjaTemplate:
        """`source` compiled (cached per template and field); a syntax error names the field."""
        from jinja2 import TemplateSyntaxError

        key = (id(template), field)
        cached = self._lines.get(key)
        if cached is not None and cached[0] is template:
            return cached[1]
        try:
            compiled = self._text_env.from_string(shorthand_to_jinja(source))
        except TemplateSyntaxError as exc:
            raise syntax_error(template, field, exc) from None
        except RecursionError:
            raise too_deep(template, field) from None
        self._trim()
        self._lines[key] = (template, compiled)
        return compiled

    def forget(self, templates: Sequence[TemplateView]) -> None:
        """Drop what is cached for templates that will not be rendered again (a template
        provider's replaced texts). Caches check identity, so this only frees memory."""
        gone = {id(template) for template in templates}
        for ident in gone:
            self._compiled.pop(ident, None)
            self._plain.pop(ident, None)
        for key in [key for key in list(self._lines) if key[0] in gone]:
            self._lines.pop(key, None)
        if self.shapes is not None:
            self.shapes.forget(templates)

    def _trim(self) -> None:
        """Bound the compile caches: configured templates are few, but a template provider's
        come and go; what is dropped is compiled again when next used."""
        if len(self._compiled) >= MAX_COMPILED:
            self._compiled.clear()
        if len(self._lines) >= MAX_COMPILED:
            self._lines.clear()

    def _render_placeholders(
        self, template: TemplateView, context: dict[str, Any], watch: Callable[[str], None]
    ) -> list[str] | None:
        """The three raw parts for a shape's placeholder values, in the same sandbox and budget
        as any render, `watch` seeing every output string; None on any failure (the full path
        then renders and reports it)."""
        plain = self.plain(template)
        try:
            with render_budget(self.limits) as budget, watching(budget, watch):
                if plain is not None:
                    return render_plain(plain, context, self.limits)
                pieces = self._stream(self._combined(template), context)
        except Exception:
            return None
        return pieces if len(pieces) == 3 else None

    def _parse(self, template: TemplateView) -> Any:
        """The combined template's syntax tree (for the shape cache's static check), kept
        until `_combined` compiles it, so a first send parses its template once, not twice."""
        tree = self._text_env.parse(combined_source(template))
        self._tree = (template, tree)
        return tree

    def check_limits(self, templates: Sequence[TemplateView], context: Mapping[str, Any]) -> None:
        """Render each template once without a payload, when the connector is built: a template
        that breaks the sandbox's limits on its own (`{{ 'a' * 10**9 }}`, endless loops) fails
        at load, as `template_error`, not at the first send. Errors that depend on the payload
        (an undefined value used in arithmetic, say) are left to the send."""
        for index, template in enumerate(templates):
            try:
                self.render(template, context)
            except ConnectorError as error:
                if is_limit_error(error):
                    error.message = f"templates[{index}]: {error.message}"
                    error.args = (error.message,)
                    raise

    def _render_bounded(self, template: TemplateView, context: dict[str, Any]) -> RenderedBodies:
        plain = self.plain(template)
        if plain is not None:
            pieces = render_plain(plain, context, self.limits)
            if pieces is not None:  # None: a value or limit Jinja is to report on
                return self._finish(template, context, pieces)
        combined = self._combined(template)
        try:
            pieces = self._stream(combined, context)
        except (TemplateLimitError, RecursionError):
            raise  # re-rendering part by part would only spend the budget again
        except Exception:
            pieces = []  # locate and report the failure part by part below
        if len(pieces) != 3:
            pieces = [self._render_part(template, part, context) for part in _PARTS]
        return self._finish(template, context, pieces)

    def _finish(
        self,
        template: TemplateView,
        context: dict[str, Any],
        pieces: Sequence[str | None],
        short_lines: tuple[str, ...] = (),
        wire: WireFill | None = None,
        sized: bool = False,
    ) -> RenderedBodies:
        """What both paths do with the raw parts: size checks, the subject made one line, and a
        text part from the HTML when the template has none. `sized`: the shape cache has
        measured every part at or under a quarter of the limit, which this check passes. With
        `wire`, the text and HTML pieces are None (both parts are the wire fill's, read lazily)."""
        if not sized:
            for part, piece in zip(_PARTS, pieces, strict=True):
                self._check_output_size(part, piece or "")
        subject, text, html = pieces
        # A piece that is None stays None: the template's sources (properties over pydantic
        # fields, ~1,600 instructions each) are read only for a piece that is there.
        text_out = text if text is not None and template.text_source is not None else None
        html_out = html if html is not None and template.html_source is not None else None
        if html_out is not None and text_out is None:
            text_out = html_to_text(html_out, _string_values(context))
        # Never None: a str (or "") on both paths; a printable one is `clean_header_text`'s
        # `strip()` at once (no call: one a message).
        subject = (
            subject.strip()
            if subject and subject.isprintable()
            else clean_header_text(subject or "")
        )
        bodies = _new(RenderedBodies)  # no `__init__` via `slot_tp_init`: test_plain_records
        bodies.subject, bodies.text, bodies.html = subject, text_out, html_out
        bodies.template, bodies.short_lines, bodies.wire = template, short_lines, wire
        return bodies

    def compile(self, template: TemplateView) -> None:
        """Compile `template` now (the connector does it for every configured one at build
        time), so a syntax error is a `template_error` at load rather than on the first send.
        A plain template has none to find: it needs no Jinja."""
        if self.plain(template) is None:
            self._combined(template)

    def variables(self, template: TemplateView) -> set[str]:
        """Top-level names the template reads anywhere (`code`, `user`, …), after `<<x>>`
        shorthands are expanded; for load-time checks such as "shows the code"."""
        plain = self.plain(template)
        found = read_names(plain) if plain is not None else None
        if found is not None:
            return found
        from jinja2 import meta

        names: set[str] = set()
        for part in _PARTS:
            ast = self._text_env.parse(shorthand_to_jinja(part_source(template, part)))
            names |= meta.find_undeclared_variables(ast)
        return names

    def _combined(self, template: TemplateView) -> JinjaTemplate:
        from jinja2 import TemplateSyntaxError

        cached = self._compiled.get(id(template))
        if cached is not None and cached[0] is template:
            return cached[1]
        for part in _PARTS:
            self._check_part(template, part)  # a block may not span parts; errors name the part
        parsed, self._tree = self._tree, None
        tree = parsed[1] if parsed is not None and parsed[0] is template else None
        try:
            env = self._text_env
            compiled = env.from_string(tree if tree is not None else combined_source(template))
        except RecursionError:  # nesting the parser took but code generation could not
            raise too_deep(template, "all parts") from None
        except TemplateSyntaxError as exc:  # found only when compiling, e.g. an unknown filter
            for part in _PARTS:
                self._compile_part(template, part)  # raises, naming the part and its line
            raise syntax_error(template, "all parts", exc) from None
        self._trim()
        self._compiled[id(template)] = (template, compiled)
        return compiled

    def _stream(self, compiled: JinjaTemplate, context: dict[str, Any]) -> list[str]:
        """Render chunk by chunk, stopping once the output passes the cap for all three parts:
        a loop printing a large value must not build gigabytes before it is measured. Chunks
        are taken a few at a time (each is at most one bounded value) to keep this cheap."""
        cap = 3 * self.limits.max_chars + 2 * len(SEPARATOR)
        chunks: list[str] = []
        size = 0
        pending = compiled.root_render_func(compiled.new_context(context))
        while batch := list(islice(pending, _STREAM_BATCH)):
            size += sum(map(len, batch))
            if size > cap:
                raise TemplateLimitError(
                    f"the output is over {self.limits.max_chars:,} characters (`maxOutputBytes`)"
                )
            chunks += batch
        return "".join(chunks).split(SEPARATOR)

    def _check_output_size(self, part: str, piece: str) -> None:
        limit = self.limits.max_chars
        if len(piece) > limit // 4 and len(piece.encode("utf-8", "surrogatepass")) > limit:
            raise TemplateLimitError(
                f"the {part} is over {limit:,} bytes once rendered (`maxOutputBytes`)"
            )

    def _check_part(self, template: TemplateView, part: str) -> None:
        """Parse one part alone (no code generation: a third of the cost of compiling)."""
        from jinja2 import TemplateSyntaxError

        try:
            self._text_env.parse(shorthand_to_jinja(part_source(template, part)))
        except TemplateSyntaxError as exc:
            raise syntax_error(template, part, exc) from None
        except RecursionError:
            raise too_deep(template, part) from None

    def _compile_part(self, template: TemplateView, part: str) -> JinjaTemplate:
        from jinja2 import TemplateSyntaxError

        source = part_source(template, part)
        env = self._html_env if part == "html" else self._text_env
        try:
            return env.from_string(shorthand_to_jinja(source))
        except TemplateSyntaxError as exc:
            raise syntax_error(template, part, exc) from None
        except RecursionError:
            raise too_deep(template, part) from None

    def _render_part(self, template: TemplateView, part: str, context: dict[str, Any]) -> str:
        from jinja2 import TemplateError
        from jinja2.sandbox import SecurityError

        compiled = self._compile_part(template, part)
        try:
            return "".join(self._stream(compiled, context))
        except (TemplateLimitError, RecursionError):
            raise
        except SecurityError as exc:
            raise template_error(template, part, f"blocked by the sandbox: {exc}") from None
        except TemplateError as exc:
            raise template_error(template, part, str(exc)) from None
        except Exception as exc:  # a filter or value raising: still the template's fault
            raise template_error(template, part, f"{type(exc).__name__}: {exc}") from None


_PARTS = ("subject", "text", "html")
MAX_COMPILED = 2048
_STREAM_BATCH = 16


def clean_header_text(value: str) -> str:
    """Collapse line breaks and control whitespace: a subject is one line, whatever the payload.
    A printable text has none of them (`isprintable` is False for every character the pattern
    matches), so the usual subject costs no regular-expression pass."""
    if value.isprintable():
        return value.strip()
    return CONTROL_RUNS.sub(" ", value).strip()


def _string_values(context: Mapping[str, Any]) -> Iterator[str]:
    for value in context.values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, Mapping):
            yield from _string_values(value)
