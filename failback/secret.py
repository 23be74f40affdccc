"""A string that never shows itself: not in repr, str, logs, tracebacks' locals, pickles or JSON.

Shared by every component that handles a credential (vCenter passwords, Azure client secrets).
"""

from __future__ import annotations

import hmac
from typing import Any

__all__ = ["Secret"]


class Secret:
    """Wraps a credential; :meth:`reveal` is the only way to read it, and is called only at the adapter edge."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(Secret)

    def __reduce__(self) -> Any:
        raise TypeError(
            "a Secret is not picklable; store it encrypted (controller.secrets.SecretBox), never in the clear"
        )
