"""failback-controller: the CA, registration, and (in later packages) inventory and workflows over gRPC."""

from controller.service._app import ControllerApp, workflow_job_types
from controller.service._config import ControllerConfig, load_config, parse_config

__all__ = ["ControllerApp", "ControllerConfig", "load_config", "parse_config", "workflow_job_types"]
