"""``failback-agent serve``: run the agent service."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from failback import __version__
from failback.logs import configure_logging

DEFAULT_CONFIG = Path("/etc/failback/agent.toml")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serve", help="run the agent service (mutual TLS gRPC, health, metrics)")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help=f"default: {DEFAULT_CONFIG}")
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from agent.server import AgentApp, load_config

    configure_logging(os.environ.get("FAILBACK_LOG_LEVEL", "INFO"))
    config = load_config(args.config)
    app = AgentApp(config)
    logging.getLogger("agent").info("failback-agent %s as %s", __version__, app.registration.identity)
    return app.serve()
