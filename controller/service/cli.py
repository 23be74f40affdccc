"""``failback-controller``: ``init`` (first-time setup), ``serve`` (the service), ``health`` (a local probe)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from failback import __version__
from failback.cli import run_handler
from failback.logs import configure_logging

__all__ = ["main"]

DEFAULT_CONFIG = Path("/etc/failback/controller.toml")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="failback-controller", description="The failback controller service.")
    parser.add_argument("--version", action="version", version=f"failback-controller {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create the CA, the controller's identity and an operator credential")
    init.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="written with defaults if missing")
    init.add_argument("--state-dir", type=Path, help="only when writing a new config file")
    init.add_argument("--operator", default="admin", help="operator identity name (default: admin)")
    init.add_argument(
        "--operator-dir",
        type=Path,
        default=Path.home() / ".config" / "failback",
        help="where failbackctl's credential and failbackctl.toml go (default: ~/.config/failback)",
    )
    init.add_argument("--controller-address", help="HOST:PORT operators use to reach the controller")
    init.set_defaults(handler=_init)

    serve = commands.add_parser("serve", help="run the controller service")
    serve.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    serve.set_defaults(handler=_serve)
    return parser


def _init(args: argparse.Namespace) -> int:
    from controller.ca import CertificateAuthority
    from controller.service._app import issue_operator_identity
    from controller.service._config import load_config

    config_path: Path = args.config
    if not config_path.exists():
        state_dir = args.state_dir or Path("/var/lib/failback-controller")
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(
            f'[controller]\nname = "controller"\nstate_dir = "{state_dir}"\n\n'
            '[server]\nlisten = "0.0.0.0:9440"\nregistration_listen = "0.0.0.0:9441"\n\n'
            '[metrics]\nlisten = "127.0.0.1:9465"\n'
        )
        print(f"wrote {config_path}")
    config = load_config(config_path)
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = CertificateAuthority.load_or_create(config.state_dir / "ca", name=config.name)
    operator_dir: Path = args.operator_dir
    issue_operator_identity(ca, args.operator, operator_dir / "operator", dt.timedelta(days=365))
    address = args.controller_address or f"127.0.0.1:{config.listen.port}"
    ctl_config = operator_dir / "failbackctl.toml"
    ctl_config.write_text(
        f'controller = "{address}"\ncontroller_name = "{config.name}"\ncredentials = "{operator_dir / "operator"}"\n'
    )
    print(f"CA: {config.state_dir / 'ca' / 'ca.pem'} ({ca.fingerprint})")
    print(f"operator credential for {args.operator!r}: {operator_dir / 'operator'}")
    print(f"failbackctl configuration: {ctl_config}")
    print(f"next: failback-controller serve --config {config_path}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from controller.service._app import ControllerApp
    from controller.service._config import load_config

    config = load_config(args.config)
    app = ControllerApp(config)
    logging.getLogger(__name__).info(
        "failback-controller %s: CA %s, state in %s", __version__, app.ca.fingerprint, config.state_dir
    )
    return app.serve()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(os.environ.get("FAILBACK_LOG_LEVEL", "INFO"))
    return run_handler("failback-controller", args)
