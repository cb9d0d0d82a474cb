"""`python -m smtp_connector` runs the CLI."""

from .cli import main

main()
