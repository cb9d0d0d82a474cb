"""Composition: template choice and rendering, the shipped templates, MIME message, header encoding.
Imports config and the shared vocabulary; never signing, delivery or anything above."""
