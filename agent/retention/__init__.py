"""Retention: which volumes may hold journals, how long points are kept, and consistency groups across pairs."""

from agent.retention._policy import DEFAULT_THINNING, RetentionPolicy, ThinningRule

__all__ = ["DEFAULT_THINNING", "RetentionPolicy", "ThinningRule"]
