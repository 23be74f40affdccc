"""Controller tests run against both engines where they touch the store (the fixture lives with the store tests)."""

from tests.store.conftest import database

__all__ = ["database"]
