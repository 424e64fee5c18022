"""Every CDK integ assembly of the corpus comes up with ``--stand-in '*' --detach`` and serves 200 on
each HTTP listener (HTTPS ones over the local CA); ``down`` leaves no process behind."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from tests.conftest import require_corpora
from tests.integration.up_support import detached, get, service

pytestmark = [pytest.mark.integration, pytest.mark.corpora]


def _assemblies() -> list[str]:
    root = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "aws-cdk-integ"
    if not root.is_dir():
        return ["<missing>"]
    return sorted(p.name for p in root.iterdir() if (p / "manifest.json").is_file())


@pytest.mark.parametrize("name", _assemblies())
def test_corpus_assembly_comes_up_and_serves(name: str, tmp_path: Path) -> None:
    corpora = require_corpora()
    assembly = corpora / "aws-cdk-integ" / name
    state = tmp_path / "state"
    with detached(state, "--assembly", str(assembly), "--stand-in", "*") as st:
        assert st["supervisor_pid"] > 0
        assert "api_url" in st
        assert st["steady"] is True, st["not_steady"]
        listeners = [lst for lb in st["load_balancers"] for lst in lb["listeners"]]
        assert listeners, "every corpus app has at least one listener"
        ca = state / "tls" / "ca.pem"
        for lst in listeners:
            ctx = None
            if ca.exists():  # HTTPS listeners, or HTTP ones redirecting to them: trust the local CA only
                ctx = ssl.create_default_context(cafile=str(ca))
            code, body = get(lst["url"], context=ctx)
            # a listener may redirect HTTP to HTTPS (urllib follows) or answer fixed responses; the
            # forward ones must reach a stand-in
            assert code == 200, (lst, body[:300])
        for svc in st["services"]:
            assert svc["running"] == svc["desired"]
            assert len(svc["deployments"]) == 1
            assert svc["deployments"][0]["rollout_state"] == "COMPLETED"
            for t in service(st, svc["name"])["tasks"]:
                assert t["last_status"] == "RUNNING"
                if t["target_reason"] == "Target.NotInUse":
                    continue  # a network LB's target group: not emulated, the service counts as LB-less
                assert t["target_state"] == "healthy", t
