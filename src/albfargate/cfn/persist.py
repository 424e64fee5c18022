"""The record of the CloudFormation stacks in the state directory: one JSON document per stack under
``<state dir>/cloudformation/stacks/<stack uuid>.json`` (template, parameters, resources with their
physical ids and attributes, outputs, events, change sets).

Crash-safe: a document is written to a temporary file in the same directory, flushed to disk and renamed
over the old one (then the directory is flushed), so a crash leaves the old document or the new one,
never a torn one. A document that cannot be read is moved aside (``*.json.unreadable``) with a warning,
never deleted."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from albfargate.cfn.model import FORMAT, StackRecord, stack_from_json, stack_to_json

log = logging.getLogger("albfargate.cfn")

#: Events kept per stack (oldest dropped first); AWS keeps 90 days of them.
MAX_EVENTS = 2000


def stack_file_name(stack_id: str) -> str:
    return stack_id.rsplit("/", 1)[-1] + ".json"


class StackStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = self.root / "stacks"
        self.warnings: list[str] = []

    def load(self) -> list[StackRecord]:
        """Every recorded stack (deleted ones too), oldest first."""
        if not self.dir.is_dir():
            return []
        out: list[StackRecord] = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                    raise ValueError(f"not an {FORMAT} document")
                out.append(stack_from_json(doc["stack"]))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                aside = path.with_suffix(".json.unreadable")
                message = f"CloudFormation: stack record {path} cannot be read ({exc}); moved to {aside.name}"
                self.warnings.append(message)
                log.warning("%s", message)
                with contextlib.suppress(OSError):
                    path.replace(aside)
        out.sort(key=lambda s: s.created_at)
        return out

    def save(self, stack: StackRecord) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if len(stack.events) > MAX_EVENTS:
            del stack.events[: len(stack.events) - MAX_EVENTS]
        doc: dict[str, Any] = {"format": FORMAT, "stack": stack_to_json(stack)}
        path = self.dir / stack_file_name(stack.stack_id)
        tmp = path.with_suffix(".json.tmp")
        data = json.dumps(doc, separators=(",", ":"), default=str).encode("utf-8")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        try:
            dir_fd = os.open(self.dir, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
