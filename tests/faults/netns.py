"""A network namespace joined to the host by a veth pair, for partitions a test can make and heal: ``ip link set
down`` on the host's end stalls an open TCP stream silently (no RST), as a cut cable or a dead switch does.

Only addresses inside the namespace the test made (10.251.N.0/30) are used; everything is deleted afterwards.
"""

from __future__ import annotations

import os
import subprocess
import uuid


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


class Namespace:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name = f"fbtest-{tag}"
        self.host_link, self.peer_link = f"fbh-{tag}", f"fbp-{tag}"
        octet = int(tag[:2], 16) % 250 + 1
        self.host_address, self.address = f"10.251.{octet}.1", f"10.251.{octet}.2"
        ip("netns", "add", self.name)
        try:
            ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.peer_link)
            ip("link", "set", self.peer_link, "netns", self.name)
            ip("addr", "add", f"{self.host_address}/30", "dev", self.host_link)
            ip("link", "set", self.host_link, "up")
            ip("-n", self.name, "addr", "add", f"{self.address}/30", "dev", self.peer_link)
            ip("-n", self.name, "link", "set", self.peer_link, "up")
            ip("-n", self.name, "link", "set", "lo", "up")
        except BaseException:
            self.delete()
            raise

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def partition(self) -> None:
        ip("link", "set", self.host_link, "down")

    def heal(self) -> None:
        ip("link", "set", self.host_link, "up")

    def delete(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_link], capture_output=True, timeout=30, check=False)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30, check=False)
        assert not os.path.exists(f"/run/netns/{self.name}"), f"namespace {self.name} was not deleted"
