"""The connector's template selector and renderer, built once per config, or carried over from
an earlier connector that renders alike (the service rebuilding one after a server changed):
its compiled templates and proven shapes then serve the first sends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .limits import RenderLimits
from .provider import TemplateProvider
from .rendering import Renderer
from .selection import TemplateSelector

if TYPE_CHECKING:
    from ..config.views import ConfigView

# The settings that decide how a message renders: equal ones render alike.
RENDERING = ("templates", "default_locale", "use_shipped_templates", "max_payload_bytes",
             "max_output_bytes", "render_timeout", "compose_cache")  # fmt: skip

Parts = tuple["ConfigView", TemplateSelector, Renderer]


def compose_parts(
    config: ConfigView, earlier: Parts | None, provider: TemplateProvider | None
) -> tuple[TemplateSelector, Renderer]:
    """The selector and renderer: `earlier`'s when its config renders alike, its renderer only
    when it asks another template provider (the selector holds the provider)."""
    renderer = None
    if earlier is not None:
        earlier_config, selector, earlier_renderer = earlier
        if all(getattr(earlier_config, name) == getattr(config, name) for name in RENDERING):
            if selector.template_provider is provider:
                return selector, earlier_renderer
            renderer = earlier_renderer
    if renderer is None:
        renderer = Renderer(
            config.max_payload_bytes, render_limits(config), compose_cache=config.compose_cache
        )
    selector = TemplateSelector(
        config.templates,
        config.default_locale,
        config.use_shipped_templates,
        provider,
        forget=renderer.forget,
    )
    return selector, renderer


def render_limits(config: ConfigView) -> RenderLimits:
    """The sandbox's configurable limits: output per part and render time."""
    return RenderLimits(max_chars=config.max_output_bytes, timeout=config.render_timeout / 1000)
