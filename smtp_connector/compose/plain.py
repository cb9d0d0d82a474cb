"""Templates rendered without Jinja: text, `{{ name }}`/`{{ a.b }}`, `{% if %}` and `{% set %}`.

Importing Jinja and compiling a template is most of a first send's rendering cost, and the
shipped templates and most users' need only this much of the language: text, printed names
and dotted paths, `or`/`and`/`not`, `x if y else z`, `is string`/`defined`/`undefined`/`none`,
string and integer literals, `{% if %}…{% elif %}…{% else %}…{% endif %}`, `{% set x = … %}`
and `{% set x %}…{% endset %}`, with `-` whitespace control. `compile_part` reads a part with
a conservative scanner and answers None for anything else (filters, calls, subscripts,
operators, comments, `+`, backslashes in literals, names Jinja treats specially …): the
renderer then uses the sandboxed Jinja environment, as for any template.

Rendering gives exactly what the sandbox gives (tests/compose/test_plain.py compares the two
on generated templates): values printed through the sandbox's own output check
(`limits.check_output`), `str()` for text and markupsafe's `escape` for HTML, a missing name
or key prints nothing (Jinja's `ChainableUndefined`), a dict's key is read as Jinja's sandbox
reads `a.b`. A value of any other type, an attribute Python objects have (`a.items`), or
anything that would raise declines the render (`Decline`): Jinja then renders it and reports
whatever went wrong in its own words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup, escape

from .limits import RenderLimits, check_output


class Decline(Exception):
    """This template or value is Jinja's to render (never reaches a caller of `render`)."""


class _Undefined:
    """Jinja's `ChainableUndefined` as printed and tested: empty, false, any attribute itself."""

    __slots__ = ()

    def __str__(self) -> str:
        return ""

    def __html__(self) -> str:
        return ""

    def __bool__(self) -> bool:
        return False


UNDEFINED = _Undefined()
_NEWLINES = re.compile(r"\r\n|\r|\n")  # Jinja's lexer writes every line break as "\n"
_TAG = re.compile(r"\{([{%#])([-+]?)")
_TOKEN = re.compile(
    r"""(?P<space>\s+)|(?P<str>'[^'\\]*'|"[^"\\]*")|(?P<word>\w+)|(?P<op>==|[.()=])"""
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"0|[1-9][0-9]*")
_KEYWORDS = frozenset({"and", "or", "not", "if", "else", "elif", "is", "in"})
# Names Jinja gives a meaning of its own (constants, its globals, special variables).
_SPECIAL = frozenset(
    {"true", "false", "none", "True", "False", "None", "self", "loop", "super", "caller",
     "varargs", "kwargs", "range", "dict", "lipsum", "cycler", "joiner", "namespace"}
)  # fmt: skip
_TESTS = frozenset({"string", "defined", "undefined", "none"})
_VALUE_TYPES = (str, Markup, int, float, bool, type(None), dict, _Undefined)

Expr = tuple[Any, ...]
Node = tuple[Any, ...]


def compile_part(source: str) -> list[Node] | None:
    """The part's statements, or None when it uses anything beyond this module's subset."""
    try:
        nodes, end = _Parser(_NEWLINES.sub("\n", source)).statements(())
    except (Decline, RecursionError, IndexError):
        return None
    return nodes if end is None else None


class _Parser:
    """Splits the source at tags as Jinja's lexer does and parses each tag's tokens."""

    def __init__(self, source: str) -> None:
        self.source, self.pos = source, 0
        self.strip_next = False  # the last tag ended in `-%}`/`-}}`
        self.pending: list[tuple[str, str]] = []  # an `elif`'s test, for `_if`

    def statements(self, ends: tuple[str, ...]) -> tuple[list[Node], str | None]:
        """Nodes up to one of the block tags in `ends` (its name returned) or the end."""
        nodes: list[Node] = []
        while True:
            found = _TAG.search(self.source, self.pos)
            text = self.source[self.pos : found.start() if found else len(self.source)]
            if self.strip_next:
                text = text.lstrip()
            if found and found.group(2) == "-":
                text = text.rstrip()
            if text:
                nodes.append(("text", text))
            if found is None:
                if ends:
                    raise Decline("unclosed block")
                return nodes, None
            kind, sign = found.groups()
            if kind == "#" or sign == "+":
                raise Decline("comment or `+`")
            self.pos = found.end()
            tokens = self._tokens("}}" if kind == "{" else "%}")
            if kind == "{":
                nodes.append(("out", _ExprParser(tokens).whole(condexpr=True)))
                continue
            word = tokens[0][1] if tokens and tokens[0][0] == "word" else ""
            if word in ends:
                if word in ("elif", "else", "endif", "endset") and (
                    len(tokens) == 1 or word == "elif"
                ):
                    self.pending = tokens[1:]
                    return nodes, word
                raise Decline("stray tokens")
            nodes.append(self._statement(word, tokens[1:]))

    def _statement(self, word: str, rest: list[tuple[str, str]]) -> Node:
        if word == "if":
            return self._if(rest)
        if word == "set" and rest and rest[0][0] == "word":
            name = _target(rest[0][1])
            if len(rest) > 1 and rest[1] == ("op", "="):
                return ("set", name, _ExprParser(rest[2:]).whole(condexpr=True))
            if len(rest) == 1:
                body, _ = self.statements(("endset",))
                if any(node[0] in ("set", "block") for node in _walk(body)):
                    raise Decline("a set inside a block set (its own scope in Jinja)")
                return ("block", name, body)
        raise Decline(f"statement {word!r}")

    def _if(self, test: list[tuple[str, str]]) -> Node:
        branches: list[tuple[Expr, list[Node]]] = []
        while True:
            body, end = self.statements(("elif", "else", "endif"))
            branches.append((_ExprParser(test).whole(condexpr=False), body))
            if end == "elif":
                test = self.pending
                continue
            otherwise: list[Node] = []
            if end == "else":
                otherwise, end = self.statements(("endif",))
            return ("if", branches, otherwise)

    def _tokens(self, end: str) -> list[tuple[str, str]]:
        """The tag's tokens up to `end` (Jinja tries the end, then `-end`, at every token)."""
        tokens: list[tuple[str, str]] = []
        source = self.source
        while True:
            if source.startswith(end, self.pos) or source.startswith("-" + end, self.pos):
                self.strip_next = source[self.pos] == "-"
                self.pos += len(end) + self.strip_next
                return tokens
            match = _TOKEN.match(source, self.pos)
            if match is None:
                raise Decline("an operator")
            self.pos = match.end()
            kind = match.lastgroup or ""
            if kind != "space":
                tokens.append((kind, match.group()))


def _target(name: str) -> str:
    if not _NAME.fullmatch(name) or name in _KEYWORDS or name in _SPECIAL or name[0] == "_":
        raise Decline(f"name {name!r}")
    return name


def _walk(nodes: list[Node]) -> list[Node]:
    found = []
    for node in nodes:
        found.append(node)
        if node[0] == "if":
            for _, body in node[1]:
                found += _walk(body)
            found += _walk(node[2])
        elif node[0] == "block":
            found += _walk(node[2])
    return found


def read_names(parts: tuple[list[Node], ...]) -> set[str] | None:
    """The top-level names the parts read (what Jinja's `meta.find_undeclared_variables` finds
    in each); None for parts that assign, whose answer depends on where names are set."""
    names: set[str] = set()
    for node in _walk([node for part in parts for node in part]):
        if node[0] in ("set", "block"):
            return None
        if node[0] == "out":
            names |= _expr_names(node[1])
        elif node[0] == "if":
            for test, _ in node[1]:
                names |= _expr_names(test)
    return names


def _expr_names(expr: Expr) -> set[str]:
    if expr[0] == "name":
        return {expr[1]}
    if expr[0] == "const":
        return set()
    if expr[0] == "attr":
        return _expr_names(expr[1])
    return set().union(*(_expr_names(item) for item in expr[1:] if isinstance(item, tuple)))


class _ExprParser:
    """Jinja's expression grammar, for the subset: condexpr > or > and > not > test > primary."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at = tokens, 0

    def whole(self, condexpr: bool) -> Expr:
        expr = self.condexpr() if condexpr else self.either()
        if self.at != len(self.tokens):
            raise Decline("more after the expression")
        return expr

    def _peek(self, offset: int = 0) -> tuple[str, str]:
        at = self.at + offset
        return self.tokens[at] if at < len(self.tokens) else ("end", "")

    def _skip(self, word: str) -> bool:
        if self._peek() == ("word", word):
            self.at += 1
            return True
        return False

    def condexpr(self) -> Expr:
        expr = self.either()
        if self._skip("if"):
            test = self.either()
            if not self._skip("else"):
                raise Decline("`if` without `else`")
            expr = ("cond", expr, test, self.condexpr())
        return expr

    def either(self) -> Expr:
        left = self.both()
        while self._skip("or"):
            left = ("or", left, self.both())
        return left

    def both(self) -> Expr:
        left = self.negated()
        while self._skip("and"):
            left = ("and", left, self.negated())
        return left

    def negated(self) -> Expr:
        if self._peek() == ("word", "not"):
            self.at += 1
            return ("not", self.negated())
        expr = self.tested()
        if self._peek() == ("word", "in") or self._peek()[1] == "==":
            raise Decline("a comparison")
        return expr

    def tested(self) -> Expr:
        expr = self.primary()
        while self._peek() == ("op", "."):
            kind, name = self._peek(1)
            if kind != "word" or not _NAME.fullmatch(name) or name[0] == "_":
                raise Decline("attribute")
            self.at += 2
            expr = ("attr", expr, name)
        if self._skip("is"):
            negate = self._skip("not")
            kind, name = self._peek()
            if kind != "word" or name not in _TESTS:
                raise Decline("test")
            self.at += 1
            if self._peek() not in (("end", ""), ("op", ")")) and self._peek()[1] not in (
                "and", "or", "else"
            ):  # fmt: skip
                raise Decline("test argument")
            expr = ("test", expr, name)
            if negate:
                expr = ("not", expr)
        if self._peek() in (("op", "("), ("op", "=")) or self._peek()[0] == "str":
            raise Decline("call or adjacent literal")
        return expr

    def primary(self) -> Expr:
        kind, text = self._peek()
        self.at += 1
        if kind == "str":
            return ("const", text[1:-1])
        if kind == "word" and _INT.fullmatch(text):
            return ("const", int(text))
        if kind == "word" and text not in _KEYWORDS:
            return ("name", _target(text))
        if (kind, text) == ("op", "("):
            expr = self.condexpr()
            if self._peek() != ("op", ")"):
                raise Decline("parenthesis")
            self.at += 1
            return expr
        raise Decline(f"token {text!r}")


class _Run:
    """One render of compiled parts with one context (the sandbox's output check reaches the
    running render's budget and watcher itself)."""

    def __init__(self, context: Mapping[str, Any], limits: RenderLimits) -> None:
        self.context, self.limits = context, limits
        self.assigned: dict[str, Any] = {}

    def part(self, nodes: list[Node], html: bool, out: list[str]) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "out":
                out.append(self._printed(node[1], html))
            elif kind == "if":
                for test, body in node[1]:
                    if self.value(test):
                        self.part(body, html, out)
                        break
                else:
                    self.part(node[2], html, out)
            elif kind == "set":
                self.assigned[node[1]] = self.value(node[2])
            else:  # block set: the captured text (Markup under autoescape, as Jinja does)
                captured: list[str] = []
                self.part(node[2], html, captured)
                self.assigned[node[1]] = Markup("".join(captured)) if html else "".join(captured)

    def _printed(self, expr: Expr, html: bool) -> str:
        value = self.value(expr)
        if isinstance(value, dict):
            raise Decline("a mapping printed")
        if expr[0] == "const":  # Jinja folds constants when compiling: no output check
            if isinstance(value, str) and len(value) > self.limits.max_chars:
                raise Decline("an oversized literal")
        else:
            check_output(value, self.limits)
        return str(escape(value)) if html else str(value)

    def value(self, expr: Expr) -> Any:
        kind = expr[0]
        if kind == "const":
            return expr[1]
        if kind == "name":
            name = expr[1]
            found = self.assigned[name] if name in self.assigned else self.context.get(name)
            if found is None and name not in self.assigned and name not in self.context:
                return UNDEFINED
            return _checked(found)
        if kind == "attr":
            return _attribute(self.value(expr[1]), expr[2])
        if kind == "or":
            return self.value(expr[1]) or self.value(expr[2])
        if kind == "and":
            return self.value(expr[1]) and self.value(expr[2])
        if kind == "not":
            return not self.value(expr[1])
        if kind == "cond":
            return self.value(expr[1]) if self.value(expr[2]) else self.value(expr[3])
        return _TEST[expr[2]](self.value(expr[1]))


_TEST: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "defined": lambda value: value is not UNDEFINED,
    "undefined": lambda value: value is UNDEFINED,
    "none": lambda value: value is None,
}


def _checked(value: Any) -> Any:
    if type(value) not in _VALUE_TYPES:
        raise Decline(f"a value of type {type(value).__name__}")
    return value


def _attribute(obj: Any, name: str) -> Any:
    """`obj.name` as the sandbox reads it: a dict's key; on an undefined value, undefined;
    an attribute the object really has (`items`, `upper`) declines."""
    if obj is UNDEFINED:
        return UNDEFINED
    if hasattr(obj, name):
        raise Decline(f"attribute {name!r}")
    if type(obj) is dict:
        return _checked(obj[name]) if name in obj else UNDEFINED
    return UNDEFINED  # str, numbers, None: no such key either


def render(
    parts: tuple[list[Node], list[Node], list[Node]],
    context: Mapping[str, Any],
    limits: RenderLimits,
) -> list[str] | None:
    """Subject, text and HTML (the HTML escaped), or None: Jinja is to render this one."""
    run = _Run(context, limits)
    pieces: list[str] = []
    try:
        for nodes, html in zip(parts, (False, False, True), strict=True):
            out: list[str] = []
            run.part(nodes, html, out)
            pieces.append("".join(out))
    except Exception:  # Decline, or a value Jinja would fail on: Jinja says what it is
        return None
    if sum(map(len, pieces)) > 3 * limits.max_chars:
        return None  # the full path's streaming cap reports it
    return pieces
