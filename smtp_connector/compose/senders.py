"""Who a message is from, where replies go, and who it is for.

The config's `fromEmail`/`fromName` and `replyTo` by default; a template's `sendFrom` and
`replyTo` (Logto's template details) for that template's mails; a failover server's
`defaultFromEmail`/`defaultFromName` on that server (its provider may accept nothing else, so
it wins over the template's). Every one is checked like `fromEmail`: one mailbox, no line break
or control character in it or its display name, and special-use domains only with
`allowSpecialUseDomains`. A template's address may hold placeholders (Logto renders
`replyTo: "{{user.primaryEmail}}"`); it is rendered in the template sandbox and checked per
message, so a payload value can never add a header or a second mailbox.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..addresses import Address, check_display_name, parse_address
from ..config.plain import invalid_config, is_templated
from ..errors import ConnectorError, ErrorCode
from .rendering import Renderer, is_limit_error

if TYPE_CHECKING:
    from ..config.views import ConfigView, TemplateView

MAX_REMEMBERED = 1024
MAX_RECIPIENTS = 50
_FIELDS = (("sendFrom", "send_from"), ("replyTo", "reply_to"))


def sender_address(email: str, name: str | None, field: str, allow_special_use: bool) -> Address:
    """The From mailbox; `name` (`fromName`) wins over a display name written into the address.
    The config has checked both (`check_display_name`); checked again here for configs built
    without validation, since this name goes into the From header that DKIM signs."""
    address = parse_address(email, what=field, allow_special_use=allow_special_use)
    if not name:
        return address
    try:
        check_display_name(name, collapse=False)
    except ValueError as exc:
        name_field = "fromName" if field == "fromEmail" else "servers[].defaultFromName"
        raise invalid_config(f"`{name_field}`: {exc}") from None
    return dataclasses.replace(address, display_name=name)


class Senders:
    """From and Reply-To per message; literal addresses are parsed once per template."""

    def __init__(self, config: ConfigView, renderer: Renderer) -> None:
        self._special_use = config.allow_special_use_domains
        self._from_name = config.from_name
        self._renderer = renderer
        self.default_from = sender_address(
            config.from_email, config.from_name, "fromEmail", self._special_use
        )
        self.default_reply_to = (
            parse_address(config.reply_to, what="replyTo", allow_special_use=self._special_use)
            if config.reply_to
            else None
        )
        self._literal: dict[tuple[int, str], tuple[TemplateView, Address]] = {}
        self._servers: dict[tuple[str, str | None], Address] = {}

    def for_template(
        self, template: TemplateView, context: Mapping[str, Any]
    ) -> tuple[Address, Address | None]:
        """(From, Reply-To) of a message rendered from `template` with `context`."""
        if template.send_from is None and template.reply_to is None:
            return self.default_from, self.default_reply_to
        sender = self.default_from
        if template.send_from is not None:
            sender = self._address(template, "sendFrom", template.send_from, context)
        reply_to = self.default_reply_to
        if template.reply_to is not None:
            reply_to = self._address(template, "replyTo", template.reply_to, context)
        return sender, reply_to

    def recipients(self, to: str | Sequence[str]) -> tuple[Address, ...]:
        """The `to` of a send, each parsed. A recipient's display name is typed by a user:
        control characters in it are collapsed (the mail must still reach them); CR, LF and
        NUL are refused."""
        if type(to) is str:  # the usual one recipient: no list, no generator
            special_use = self._special_use
            return (
                parse_address(
                    to, what="recipient", collapse_controls=True, allow_special_use=special_use
                ),
            )
        items = [to] if isinstance(to, str) else list(to)
        if not items:
            raise ConnectorError(ErrorCode.INVALID_RECIPIENT, "No recipient given (`to` is empty).")
        if len(items) > MAX_RECIPIENTS:
            raise ConnectorError(
                ErrorCode.INVALID_RECIPIENT,
                f"{len(items)} recipients in one message; at most {MAX_RECIPIENTS} "
                "(verification mail goes to one person: send one message each).",
            )
        return tuple(
            parse_address(
                item, what="recipient", collapse_controls=True, allow_special_use=self._special_use
            )
            for item in items
        )

    def check(self, template: TemplateView, context: Mapping[str, Any]) -> None:
        """When a template is loaded or saved: a literal address is parsed now; a templated
        one is compiled and rendered once with `context`, so a syntax error or a sandbox limit
        it breaks on its own fails now (what it renders to depends on the payload, so the
        address itself is checked per message)."""
        for key, attribute in _FIELDS:
            source = getattr(template, attribute)
            if source is None:
                continue
            if not is_templated(source):
                self._address(template, key, source, context)
                continue
            self._renderer.compile_line(template, key, source)
            try:
                self._renderer.render_line(template, key, source, context)
            except ConnectorError as error:
                if is_limit_error(error):
                    raise

    def for_server(self, email: str, name: str | None) -> Address:
        """A failover server's `defaultFromEmail`, parsed once (the same for every message)."""
        address = self._servers.get((email, name))
        if address is None:
            address = sender_address(email, name, "defaultFromEmail", self._special_use)
            self._servers[(email, name)] = address
        return address

    def _address(
        self, template: TemplateView, key: str, source: str, context: Mapping[str, Any]
    ) -> Address:
        if is_templated(source):
            text = self._renderer.render_line(template, key, source, context)
            return self._parse(template, key, text, source)
        cached = self._literal.get((id(template), key))
        if cached is not None and cached[0] is template:
            return cached[1]
        address = self._parse(template, key, source)
        if len(self._literal) >= MAX_REMEMBERED:
            self._literal = {}
        self._literal[(id(template), key)] = (template, address)
        return address

    def _parse(
        self, template: TemplateView, key: str, text: str, source: str | None = None
    ) -> Address:
        """`text` as one mailbox, checked like `fromEmail`; a `sendFrom` without a display
        name takes `fromName`. A failure is the template's: `template_error`, naming the
        template's text rather than the rendered value (payload values stay out of errors)."""
        value = text.strip()
        try:
            address = parse_address(value, what=key, allow_special_use=self._special_use)
        except ConnectorError as error:
            why = error.message.removeprefix(f"Invalid {key} {repr(value)[:120]}: ")
            shown = f"`{key}` {source!r} once rendered" if source else f"`{key}` {value!r}"
            raise ConnectorError(
                ErrorCode.TEMPLATE_ERROR,
                f"Template {template.label!r}: {shown} is not a valid address: {why}",
                retryable=False,
            ) from None
        if key == "sendFrom" and not address.display_name and self._from_name:
            address = dataclasses.replace(address, display_name=self._from_name)
        return address
