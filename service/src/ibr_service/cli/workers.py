"""`ibr serve --workers N`: N uvicorn worker processes, and the outbox dispatcher once beside them.

uvicorn spawns each worker as a fresh process that builds its own app from the IBR_* environment
(`worker_app`). Their in-process outbox is switched off (IBR_RUN_OUTBOX=false in the environment
they inherit) and one `ibr outbox run` process, started and stopped with the server, delivers
the callbacks: one poller however many workers. The server's keys are created (on a fresh
database) by `serve` before any worker starts, so that every worker loads the same ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from ibr_service.settings import Settings

WORKER_APP = "ibr_service.cli.workers:worker_app"
_IBR = "from ibr_service.cli import app; app()"


def worker_app() -> Any:
    """The app of one worker process (a uvicorn factory)."""
    from ibr_service.api import build_host, create_app
    from ibr_service.cli.malloc import return_large_blocks_to_the_os

    return_large_blocks_to_the_os()
    return create_app(build_host(Settings()))


def outbox_process() -> subprocess.Popen[bytes]:
    """`ibr outbox run` with this server's environment and interpreter."""
    command = [sys.executable, "-c", _IBR, "outbox", "run"]  # our own interpreter and code
    return subprocess.Popen(command, env=dict(os.environ))  # noqa: S603


def serve_workers(
    settings: Settings, *, host: str, port: int, workers: int, uvicorn_options: dict[str, Any]
) -> None:
    """Run `workers` worker processes until interrupted, the outbox in its own process."""
    import uvicorn

    os.environ["IBR_RUN_OUTBOX"] = "false"  # for the workers; the outbox process runs it once
    outbox = outbox_process() if settings.run_outbox else None
    try:
        uvicorn.run(
            WORKER_APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            **uvicorn_options,
        )
    finally:
        if outbox is not None:
            outbox.terminate()
            try:
                outbox.wait(15)
            except subprocess.TimeoutExpired:
                outbox.kill()
                outbox.wait()
