"""``ablab demo``: a real two-model experiment, end to end, on embedded stores.

Two scikit-learn models are trained and served over HTTP; the ablab server routes the
traffic of thousands of simulated devices to them through ``POST /v1/predict``, delayed
labels arrive, a shadow experiment mirrors 2.0.0 behind 1.0.0, and the results and the
recommendation are printed. The servers keep running until Ctrl-C (``DEMO_EXIT=1``: exit
after printing). The work is in :mod:`ablab.cli.demo.run`, imported when the command runs,
so that every other command starts without scikit-learn and the server. scikit-learn comes with
the ``demo`` extra (``pip install 'ablab[demo]'``); without it the command says so in one line
and exits with code 2, like ablab's other errors.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from ablab.extras import needs_extra

__all__ = ["demo"]


def demo(
    home: Annotated[
        Path | None,
        typer.Option("--demo-home", help="Keep the demo's stores here (default: a temp folder)."),
    ] = None,
    devices: Annotated[int, typer.Option(help="Simulated devices sending predictions.")] = 3000,
    port: Annotated[int, typer.Option(help="Port of the ablab server (another if taken).")] = 8000,
    waves: Annotated[
        int, typer.Option(min=1, max=10, help="Traffic arrives in this many waves...")
    ] = 3,
    wave_gap: Annotated[
        float, typer.Option(min=0, help="...this many seconds apart (the console's charts).")
    ] = 40.0,
) -> None:
    """Run a real two-model experiment on embedded stores and print its results."""
    # Checked before anything starts; MissingExtra is printed in one line with exit code 2.
    with needs_extra("demo", feature="ablab demo", package="scikit-learn"):
        importlib.import_module("sklearn")
    from ablab.cli.demo.run import Waves, run_demo  # noqa: PLC0415 - scikit-learn loads only for ablab demo

    run_demo(home, devices, port, Waves(waves, wave_gap))
