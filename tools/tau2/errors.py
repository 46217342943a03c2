"""Expected failures of the tau2 retail store: Deskpilot's own tool errors, with the policy rule named.

A refusal is a `PolicyViolation` (what every Deskpilot tool raises for a business rule), so the agent and
the approval flow treat it like any other; `rule` names the section of tau2's policy.md that refuses it.
"""

from __future__ import annotations

from tools.errors import NotFound, PolicyViolation

__all__ = ["NotFound", "PolicyRefusal"]


class PolicyRefusal(PolicyViolation):
    """`tau2_checks`: tau2-bench's own retail tool refuses this too (False where we follow policy.md more
    strictly than its code does)."""

    def __init__(self, rule: str, message: str, tau2_checks: bool = True) -> None:
        super().__init__(message)
        self.rule = rule
        self.tau2_checks = tau2_checks
