"""`python -m picchu` is the same command line as the `picchu` script."""

from picchu.cli import app

app()
