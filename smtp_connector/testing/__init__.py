"""Test support for users of the library: the `smtp_outbox` pytest plugin and a local dev server.
Imports the library's stages; nothing in the library imports testing."""
