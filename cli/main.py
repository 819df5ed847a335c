"""The `pop` entry point: the application with every command registered."""

from cli import ops, pipeline, steward, vocab  # noqa: F401 - importing a command module registers its commands
from cli.app import app

__all__ = ["app"]

if __name__ == "__main__":
    app()
