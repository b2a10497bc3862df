"""``python -m ablab`` is the ``ablab`` command."""

from ablab.cli.main import run

run()
