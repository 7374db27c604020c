"""A run as the dev server's `/v1/runs/{id}` reports it: what a test reads back."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["ServerRun"]


@attrs.frozen
class ServerRun:
    """A run as the dev server's `/v1/runs/{id}` reports it.

    `steps` are the JSON step records (`name`, `kind`, `status`, `attempts`, `output`,
    `error`, ...) in the order the dev server lists them; `raw` is the whole JSON object.
    `events` are the events the run was started with (several for a batch, the last of a
    burst for a debounce); `reason` says why flow control skipped, cancelled or is holding
    the run (`None` otherwise).
    """

    run_id: str
    function_id: str
    status: str
    output: Any
    error: Any
    steps: tuple[dict[str, Any], ...]
    raw: dict[str, Any] = attrs.field(repr=False)
    events: tuple[dict[str, Any], ...] = attrs.field(default=(), repr=False)
    reason: str | None = None

    def step(self, name: str) -> dict[str, Any]:
        """The step record whose name (the block id) is `name`."""
        for record in self.steps:
            if record.get("name") == name:
                return record
        known = ", ".join(repr(r.get("name")) for r in self.steps) or "none"
        raise KeyError(f"run {self.run_id} has no step {name!r}; its steps: {known}")

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ServerRun:
        return cls(
            run_id=raw["run_id"],
            function_id=raw["function_id"],
            status=raw["status"],
            output=raw.get("output"),
            error=raw.get("error"),
            steps=tuple(raw.get("steps") or ()),
            raw=raw,
            events=tuple(raw.get("events") or ()),
            reason=raw.get("reason"),
        )
