"""`python -m app` runs the CLI (same as `privchat-server`)."""

from app.cli import main

main()
