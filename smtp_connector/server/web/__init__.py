"""The admin web page (`GET /`): one server-rendered Jinja2 page plus a few small ES modules.

The page holds no data and no secret when it is served: it asks for an API key, keeps it in
the tab's sessionStorage, and talks to the same JSON API as every other client (`/v1/...`),
so there is no second code path to the store. Templates and static files are package data
(`templates/`, `static/`), read through importlib.resources and shipped in the wheel; nothing
is built and nothing comes from a CDN at run time.
"""

from .pages import install

__all__ = ["install"]
