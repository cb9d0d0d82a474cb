"""What a chosen template needs from a payload, found before a send is accepted.

Jinja prints nothing for a name the payload lacks, so a sign-in mail without `code` goes out
as " is your shop sign-in code". `PayloadCheck.missing` finds such values from the template
itself, in two ways:

- rendering: the template is rendered with the payload in a twin sandbox whose undefined
  value records its name when it is printed. `{{ code }}` and `<<code>>` with no `code` are
  recorded; `{{ code | default("…") }}`, `{{ code or "…" }}` and a branch not taken
  (`{% if user %}…{% endif %}` without a user) are not, since nothing undefined is printed.
- the usage type's own value (`code` for the code types, `link` for an invitation): when
  the template prints it anywhere, it is needed even inside `{% if code %}` (the shipped
  layout guards both so that one layout serves both kinds). A template makes it optional
  explicitly: `{{ code | default(…) }}`, `{% if code is defined %}` or `{{ code or … }}`.
  An empty value ("" or null) counts as missing for it.

Rendering costs about as much as the send's own render, so its verdict is remembered per
template and payload shape (`verdict_keys.py`): the type and truth of each name the template
reads, and the value itself of each name whose value steers the render beyond that (compared,
indexed, iterated, filtered: `{% if locale == "de" %}`, `{% for i in items %}`). A payload of a
known shape gets the verdict its render would give, without rendering; one whose values the key
cannot hold (an object of its own type, a long steering string) is rendered every time. A render
that fails (a sandbox limit, a template error) is not remembered: the send's render refuses it.
Only top-level names are checked: `{{ user.name }}` with a `user` that lacks `name` is not.
"""

from __future__ import annotations

import contextlib
import operator
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ..errors import Cause, ConnectorError, ErrorCode
from ..usage import KNOWN_USAGE_TYPES, UsageType, suggest_usage_type
from .limits import RenderLimits, render_budget
from .selection import normalize_locale
from .sources import shorthand_to_jinja
from .verdict_keys import verdict_key

if TYPE_CHECKING:  # Jinja: loaded by the first check (`recording.py`), not by a send
    from jinja2 import Template as JinjaTemplate

    from ..config.views import ConfigView, TemplateView
    from .sandbox import LimitedSandbox

# The value each usage type exists to carry (Logto: invitations carry a link, the rest a code).
KEY_VALUES = {usage: "code" for usage in KNOWN_USAGE_TYPES} | {
    UsageType.ORGANIZATION_INVITATION.value: "link",
}
# Names people send the code under; a missing `code` next to one of these is named in the error.
_CODE_ALIASES = ("otp", "pin", "token", "passcode", "verificationCode", "verification_code")
MAX_VERDICTS = 2048
_NONE = type(None)


class _Facts:
    """What a template's source says, found once per template. Read-only (`Final`); a plain
    class, not a frozen dataclass, for the import cost (see limits.py's RenderLimits)."""

    __slots__ = ("optional", "parts", "prints", "reads", "steering")

    def __init__(
        self,
        parts: tuple[JinjaTemplate, ...],
        reads: tuple[str, ...],  # top-level names read anywhere, sorted
        steering: Callable[[tuple[Any, ...]], Any] | None,  # picks values that steer a render
        prints: frozenset[str],  # names printed in some {{ … }}
        optional: frozenset[str],  # names given an explicit fallback or presence test
    ) -> None:
        self.parts: Final = parts
        self.reads: Final = reads
        self.steering: Final = steering
        self.prints: Final = prints
        self.optional: Final = optional


class PayloadCheck:
    """Finds the payload values a template shows but was not given (see module doc)."""

    def __init__(self, limits: RenderLimits, renderer: Any = None) -> None:
        self.limits = limits
        # The renderer's own first analysis of a template (`Renderer.plain`), which `learn`
        # does too: weak, as the renderer keys this check in `_BY_RENDERER`.
        self._plain = weakref.WeakMethod(renderer.plain) if renderer is not None else None
        self._envs: list[LimitedSandbox] = []  # the recording sandbox, built on first use
        self._facts: dict[int, tuple[TemplateView, _Facts]] = {}
        self._verdicts: dict[tuple[Any, ...], tuple[TemplateView, tuple[str, ...]]] = {}

    def missing(self, template: TemplateView, context: Mapping[str, Any]) -> list[str]:
        """Names of values `template` would show empty with `context`, in template order."""
        cached = self._facts.get(id(template))
        if cached is not None and cached[0] is template:
            facts = cached[1]
        else:
            try:
                facts = self._facts_of(template)
            except Exception:  # a template that does not compile: the send's render says why
                return []
        found: list[str] = []
        key_value = KEY_VALUES.get(template.usage_type)
        if key_value is not None and key_value in facts.prints and key_value not in facts.optional:
            value = context.get(key_value)  # absent, null or blank: no code to show
            if value is None or (isinstance(value, str) and not value.strip()):
                found.append(key_value)
        values = tuple(map(context.get, facts.reads))
        types = tuple(map(type, values))
        if _NONE in types:  # a name the template reads is not given: would it print it?
            shape = verdict_key(id(template), values, types, facts.steering)
            known = self._verdicts.get(shape) if shape is not None else None
            printed = known[1] if known is not None and known[0] is template else None
            if printed is None:
                printed, whole = self.rendered(facts, context)
                if whole and shape is not None:
                    self._remember(shape, template, printed)
            if printed:
                found += [n for n in printed if n not in found]
        return found

    def knows(self, template: TemplateView) -> bool:
        """Whether `template`'s facts are found already (`missing` then analyses no source)."""
        cached = self._facts.get(id(template))
        return cached is not None and cached[0] is template

    def learn(self, template: TemplateView) -> None:
        """Find `template`'s facts now, and the renderer's plain parts (in a host's thread,
        before `missing` and the send's render on its loop); safe beside them in another
        thread: both are kept by the template's identity."""
        plain = self._plain() if self._plain is not None else None
        with contextlib.suppress(Exception):  # does not compile: the send's render says why
            self._facts_of(template)
            if plain is not None:
                plain(template)

    def rendered(self, facts: _Facts, context: Mapping[str, Any]) -> tuple[tuple[str, ...], bool]:
        """The undefined names a render of `facts`' template with `context` prints, in order,
        and whether the render finished (what a failed one printed is not remembered)."""
        from .recording import printed_names

        values = {k: v for k, v in context.items() if v is not None}
        printed: list[str] = []
        whole = True
        token = printed_names.set(printed)
        try:
            with render_budget(self.limits):
                for part in facts.parts:
                    part.render(values)
        except Exception:  # the send's own render reports what went wrong
            whole = False
        finally:
            printed_names.reset(token)
        return tuple(dict.fromkeys(printed)), whole

    def _remember(
        self, shape: tuple[Any, ...], template: TemplateView, verdict: tuple[str, ...]
    ) -> None:
        if len(self._verdicts) >= MAX_VERDICTS:
            self._verdicts.clear()
        self._verdicts[shape] = (template, verdict)

    def _facts_of(self, template: TemplateView) -> _Facts:
        """What `template`'s source says (see `_Facts`), found and remembered."""
        from jinja2 import meta

        from .recording import optional_names, printed_in, recording_sandbox, valued_names

        if not self._envs:
            self._envs.append(recording_sandbox(self.limits))
        env = self._envs[0]
        sources = [template.subject, template.text_source or "", template.html_source or ""]
        trees = [env.parse(shorthand_to_jinja(source)) for source in sources if source]
        reads = tuple(sorted(set().union(*(meta.find_undeclared_variables(t) for t in trees))))
        valued = set().union(*(valued_names(t) for t in trees))
        steering = [i for i, name in enumerate(reads) if name in valued]
        facts = _Facts(
            parts=tuple(env.from_string(tree) for tree in trees),
            reads=reads,
            steering=operator.itemgetter(*steering) if steering else None,
            prints=frozenset().union(*(printed_in(t) for t in trees)),
            optional=frozenset().union(*(optional_names(t) for t in trees)),
        )
        if len(self._facts) >= MAX_VERDICTS:
            self._facts.clear()
        self._facts[id(template)] = (template, facts)
        return facts


_BY_RENDERER: weakref.WeakKeyDictionary[Any, PayloadCheck] = weakref.WeakKeyDictionary()


def payload_check_for(renderer: Any) -> PayloadCheck:
    """The check that goes with `renderer` (one per renderer: connectors that share compiled
    templates share what is known about them too)."""
    check = _BY_RENDERER.get(renderer)
    if check is None:
        check = _BY_RENDERER[renderer] = PayloadCheck(renderer.limits, renderer)
    return check


def load_findings(template: TemplateView, config: ConfigView, found: list[str]) -> list[str]:
    """The connector's load-time findings (`found`) about `template`, when it is configured."""
    warnings: list[str] = []
    for index, configured in enumerate(config.templates if found else ()):
        if configured is template:
            warnings += [text for text in found if text.startswith(f"templates[{index}]")]
    return warnings


def fallback_findings(
    usage: str,
    locale: str | None,
    template: TemplateView,
    default_locale: str,
    allow_fallback: bool,
) -> list[str]:
    """A usage type or locale that fell back to another template. An unknown usage type with
    no template of its own is an error unless `allow_fallback`: it is usually a misspelling,
    and would go out with the Generic text."""
    found = []
    if template.usage_type != usage:
        suggestion = suggest_usage_type(usage)
        if usage not in KNOWN_USAGE_TYPES and not allow_fallback:
            mean = f"; did you mean {suggestion!r}?" if suggestion else "."
            raise ConnectorError(
                ErrorCode.TEMPLATE_NOT_FOUND,
                f"Usage type {usage!r} is not a known usage type and has no template of its "
                f"own{mean} Known: {', '.join(KNOWN_USAGE_TYPES)}. A custom usage type needs a "
                "template of its own; for the generic mail, ask for Generic.",
                retryable=False,
                cause=Cause.UNKNOWN_USAGE_TYPE,
                reason=f"{usage!r}" + (f"; did you mean {suggestion!r}?" if suggestion else ""),
                details={"suggestion": suggestion},
            )
        mean = f" (did you mean {suggestion!r}?)" if suggestion else ""
        found.append(
            f"No template for usage type {usage!r}{mean}: the {template.usage_type} template "
            "was used."
        )
    wanted = normalize_locale(locale).split("-")[0] if locale else None
    used = normalize_locale(template.locale or default_locale).split("-")[0]
    if wanted and wanted != used:
        found.append(
            f"No {template.usage_type} template in locale {locale!r}: the {used!r} one was used."
        )
    return found


def missing_error(
    template: TemplateView, names: list[str], payload: Mapping[str, Any]
) -> ConnectorError:
    """`template_error` naming each missing value, and the payload key meant, when one looks
    like it (`Code`, `otp`)."""
    described = [f"`payload.{name}`{_near_miss(name, payload)}" for name in names]
    verb = "is" if len(names) == 1 else "are"
    them = "it" if len(names) == 1 else "them"
    return ConnectorError(
        ErrorCode.TEMPLATE_ERROR,
        f"{' and '.join(described)} {verb} missing: the {template.label} template shows {them} "
        f"and has no default for {them}, so the mail would go out with a blank where "
        f"{'it belongs' if len(names) == 1 else 'they belong'}.",
        retryable=False,
        cause=Cause.MISSING_VALUE,
        reason=", ".join(names),
        details={"missing": names},
    )


def _near_miss(name: str, payload: Mapping[str, Any]) -> str:
    keys = [str(key) for key in payload if key != name]
    same_case = [key for key in keys if key.lower() == name.lower()]
    if same_case:
        return f" (the payload has `{same_case[0]}`: names are case-sensitive)"
    aliases = [key for key in keys if name == "code" and key in _CODE_ALIASES]
    import difflib  # a missing name's error only, never a send that goes out

    close = aliases or difflib.get_close_matches(name, keys, n=1, cutoff=0.75)
    return f" (the payload has `{close[0]}`; the template reads `{name}`)" if close else ""
