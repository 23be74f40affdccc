"""Real processes for tests: a controller, agents registered to it, and the sd_notify socket they report to."""

from tests.harness._processes import (
    AgentProcess,
    ControllerProcess,
    NotifySocket,
    Service,
    register_agent,
    run_cli,
    start_agent,
    start_controller,
)

__all__ = [
    "AgentProcess",
    "ControllerProcess",
    "NotifySocket",
    "Service",
    "register_agent",
    "run_cli",
    "start_agent",
    "start_controller",
]
