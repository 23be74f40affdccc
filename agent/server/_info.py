"""``failback.agent.v1.Agent``: what this agent is."""

from __future__ import annotations

import socket
from collections.abc import Callable

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from agent.api.v1 import agent_pb2, agent_pb2_grpc
from failback import __version__
from failback.serving import TlsIdentity

__all__ = ["AgentInfoServicer"]


class AgentInfoServicer(agent_pb2_grpc.AgentServicer):
    def __init__(self, tls: Callable[[], TlsIdentity]) -> None:
        self._tls = tls

    def GetInfo(self, request: agent_pb2.GetInfoRequest, context: grpc.ServicerContext) -> agent_pb2.AgentInfo:
        tls = self._tls()
        not_after = Timestamp()
        not_after.FromDatetime(tls.not_after)
        return agent_pb2.AgentInfo(
            name=tls.identity.name,
            role=tls.identity.role.value,
            version=__version__,
            hostname=socket.gethostname(),
            certificate_not_after=not_after,
        )
