"""`make demo`'s scenario (sandbox/demo.py), run on the integration tests' deployment: what it narrates is true."""

from __future__ import annotations

import io

import pytest

from sandbox.demo import ALICE, BucketScenario, Narrator, Scenario
from tests.integration.targets import SandboxTarget

pytestmark = [pytest.mark.integration, pytest.mark.terraform]


def test_the_demo_scenario_does_what_it_narrates(sandbox: SandboxTarget) -> None:
    out = io.StringIO()
    scenario = Scenario(sandbox.local, Narrator(out), role_name=sandbox.unique("Audit_CrossAccountRole")).run()
    text = out.getvalue()

    assert (scenario.finding["principal"], scenario.finding["status"]) == ({"AWS": ALICE}, "ACTIVE")
    assert [e["detail"]["id"] for e in scenario.events] == [scenario.finding["id"]]
    assert scenario.delivery is not None and scenario.delivery.invocation.result == {"batchItemFailures": []}
    before, after = scenario.policy_before["Statement"], scenario.policy_after["Statement"]
    assert after[: len(before)] == before and [s["Effect"] for s in after[len(before) :]] == ["Deny"]
    [email] = scenario.emails
    assert f"[REMEDIATED] role {scenario.role_name}" in email.message
    assert all(line in text for line in email.message.splitlines())  # the demo shows the whole e-mail
    assert "proof: ValidatePolicy PASS" in text and "proof: CheckNoNewAccess PASS" in text  # proven before the write
    assert scenario.status_after_rescan == "RESOLVED"
    assert "events delivered to the queue: 0" in text
    assert scenario.revert is not None and scenario.revert.code == 0
    assert scenario.policy_reverted == scenario.policy_before
    assert "the trust policy is now identical to the original." in text
    assert [line.split(". ", 1)[0].split("] ")[1] for line in text.splitlines() if line.startswith("[")] == [
        str(n) for n in range(1, 10)
    ]


def test_the_demo_bucket_scenario_does_what_it_narrates(sandbox: SandboxTarget) -> None:
    out = io.StringIO()
    scenario = BucketScenario(sandbox.local, Narrator(out), bucket=sandbox.unique("demo-public-")).run()
    text = out.getvalue()
    assert scenario.finding["isPublic"] is True and scenario.finding["status"] == "ACTIVE"
    assert scenario.delivery is not None and scenario.delivery.invocation.result == {"batchItemFailures": []}
    before, after = scenario.policy_before["Statement"], scenario.policy_after["Statement"]
    assert after[: len(before)] == before and [s["Effect"] for s in after[len(before) :]] == ["Deny"]
    [email] = scenario.emails
    assert email.subject == f"[Access Analyzer] Denied external access to bucket {scenario.bucket}"
    assert scenario.status_after_rescan == "RESOLVED"
    assert scenario.revert is not None
    assert scenario.revert.code == 0, scenario.revert.stderr
    assert scenario.policy_reverted == scenario.policy_before
    assert "the bucket policy is now identical to the original." in text
    # Public: Block Public Access turned on beside the Deny, and back to none by the revert.
    assert scenario.block_before is None
    assert scenario.block_after is not None
    assert scenario.block_after["RestrictPublicBuckets"] and scenario.block_after["IgnorePublicAcls"]
    assert scenario.block_reverted is None and "Block Public Access: None (as before)." in text
    assert "turned Block Public Access IgnorePublicAcls and RestrictPublicBuckets" in scenario.revert.stdout
