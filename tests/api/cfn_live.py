"""A real engine (stand-in tasks, the local ALB, the AWS endpoint with CloudFormation) that starts empty
-- or with what the state directory's CloudFormation record brings back, as ``up`` does -- run on a
background loop for the CloudFormation API tests. Everything it starts is stopped on exit."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from albfargate.cfn.restore import with_deployed_stacks
from albfargate.engine import EngineConfig
from albfargate.model import SystemModel
from tests.api.live import Live, child_pids, free_port
from tests.engine_support import engine_in_background

FAST = {"Delay": 0.25, "MaxAttempts": 480}


@contextmanager
def cfn_engine(
    state_dir: Path,
    *,
    stand_in: tuple[str, ...] = ("*",),
    restore: bool = True,
    lb_port: int | None = None,
) -> Iterator[Live]:
    before = child_pids()
    port = lb_port or free_port()
    model = SystemModel()
    if restore:
        model, _ = with_deployed_stacks(model, state_dir)
    config = EngineConfig(model=model, state_dir=state_dir, stand_in=stand_in, port_overrides={80: port})
    with engine_in_background(config, api=True, name="cfn-engine") as (engine, loop):
        yield Live(engine.api_url or "", f"http://127.0.0.1:{port}", engine, loop)
    deadline = time.time() + 10
    while child_pids() - before and time.time() < deadline:
        time.sleep(0.2)
    assert child_pids() - before == set(), "stand-in processes left behind"


def events_of(cfn: Any, stack: str) -> list[tuple[str, str, str | None]]:
    out = []
    for e in reversed(cfn.describe_stack_events(StackName=stack)["StackEvents"]):
        out.append((e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")))
    return out


@dataclass
class Load:
    """Light, bounded load on a URL from a thread: one GET every ``interval`` seconds."""

    url: str
    interval: float = 0.05
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Load:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    with urllib.request.urlopen(self.url, timeout=5) as r:
                        if r.status == 200:
                            self.ok += 1
                        else:
                            self.failed.append(str(r.status))
                except urllib.error.HTTPError as e:
                    self.failed.append(str(e.code))
                except OSError as e:
                    self.failed.append(repr(e))
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=run, name="light-load", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
