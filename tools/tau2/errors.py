"""Expected failures of the tau2 retail tools; messages are safe to show the model.

Tau2Error
 +-- NotFound          (no such user, order, product or item)
 +-- NotAuthenticated  (no user located by e-mail or name + zip yet, or another user's order)
 +-- PolicyRefusal     (the retail policy forbids it; `rule` names the policy section)
"""

from __future__ import annotations


class Tau2Error(Exception):
    """Base class: the tool did nothing."""


class NotFound(Tau2Error):
    pass


class NotAuthenticated(Tau2Error):
    pass


class PolicyRefusal(Tau2Error):
    """`tau2_checks`: tau2-bench's own retail tool refuses this too (False where we follow policy.md more
    strictly than its code does)."""

    def __init__(self, rule: str, message: str, tau2_checks: bool = True) -> None:
        super().__init__(message)
        self.rule = rule
        self.tau2_checks = tau2_checks
