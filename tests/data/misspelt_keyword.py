"""A class keyword with a typo; mypy must report it (see tests/test_typing.py)."""

from __future__ import annotations

from inngest_dsl import InngestFunction


class Typo(InngestFunction, evnt="app/typo"):
    pass
