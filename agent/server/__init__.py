"""The agent's gRPC servers: servicers translate protobuf to the plain-Python packages and errors to status codes."""

from agent.server._app import POLICY, AgentApp, pair_health_name
from agent.server._config import AgentConfig, load_config, parse_config

__all__ = ["POLICY", "AgentApp", "AgentConfig", "load_config", "pair_health_name", "parse_config"]
