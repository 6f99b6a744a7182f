"""The IAM read-lag switch of the sandbox's moto server (sandbox/iam_consistency.py): stale reads really happen,
only within the window, rendered exactly as moto renders that version, and writes always land on the latest."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from typing import Any

import pytest

from sandbox.iam_consistency import consistent_reads
from sandbox.moto_server import MotoServer, MotoServerError

_ELEMENT = re.compile(rb"<AssumeRolePolicyDocument>[^<]*</AssumeRolePolicyDocument>")


def version(n: int) -> str:
    """Trust policy number `n`, in a layout (spaces, escapes) moto stores verbatim and must render as sent."""
    statement = {
        "Sid": f"V{n}",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{200000000000 + n}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringLike": {"sts:ExternalId": f'a&b<{n}> "q" %2F+/é'}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class RawIam:
    """An IAM client that also keeps the raw XML of each answer."""

    def __init__(self, moto: MotoServer, consistent: bool = False) -> None:
        self.client = moto.client("iam")
        if consistent:
            consistent_reads(self.client)
        self.raw: dict[str, bytes] = {}
        self.client.meta.events.register("after-call.iam", self._keep)

    def _keep(self, http_response: Any, model: Any, **_: Any) -> None:
        self.raw[model.name] = http_response.content

    def get(self, name: str) -> tuple[str, bytes]:
        """(the Sid of the version answered, the raw <AssumeRolePolicyDocument> element)."""
        document = self.client.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        element = _ELEMENT.search(self.raw["GetRole"])
        assert element is not None
        return document["Statement"][0]["Sid"], element.group(0)

    def listed(self, name: str) -> tuple[str, bytes]:
        roles = self.client.list_roles()["Roles"]
        [role] = [r for r in roles if r["RoleName"] == name]
        member = re.search(
            rb"<member>(?:(?!</member>).)*<RoleName>" + name.encode() + rb"</RoleName>.*?</member>",
            self.raw["ListRoles"],
            re.DOTALL,
        )
        assert member is not None
        element = _ELEMENT.search(member.group(0))
        assert element is not None
        return role["AssumeRolePolicyDocument"]["Statement"][0]["Sid"], element.group(0)


@pytest.fixture
def iam(moto: MotoServer) -> RawIam:
    return RawIam(moto)


def _write_versions(iam: RawIam, name: str, count: int) -> dict[str, tuple[bytes, bytes]]:
    """Create the role (version 0) and update it to versions 1..count-1; moto's own rendering of each version
    (GetRole, ListRoles), read while the lag is off."""
    rendered = {}
    iam.client.create_role(RoleName=name, AssumeRolePolicyDocument=version(0))
    for n in range(count):
        if n:
            iam.client.update_assume_role_policy(RoleName=name, PolicyDocument=version(n))
        get_sid, get_element = iam.get(name)
        list_sid, list_element = iam.listed(name)
        assert get_sid == list_sid == f"V{n}"
        rendered[f"V{n}"] = (get_element, list_element)
    return rendered


def test_get_role_answers_earlier_versions_exactly_as_moto_renders_them(moto: MotoServer, iam: RawIam) -> None:
    rendered = _write_versions(iam, "Lagging", 3)
    moto.set_iam_read_lag(5.0, probability=1.0, seed=1)
    answers: Counter[str] = Counter()
    for _ in range(40):
        sid, element = iam.get("Lagging")
        answers[sid] += 1
        assert element == rendered[sid][0], "the stale document is not what moto renders for that version"
    # probability 1: never the latest while an earlier version is in the window; both earlier ones show up
    assert set(answers) == {"V0", "V1"}, answers
    for _ in range(20):
        sid, element = iam.listed("Lagging")
        assert sid in {"V0", "V1"} and element == rendered[sid][1]
    stats = moto.iam_read_lag_stats()
    assert stats["stale_get_role"] == 40 and stats["stale_list_roles"] == 20 and stats["seconds"] == 5.0


def test_never_a_version_older_than_the_window_and_latest_once_it_passed(moto: MotoServer, iam: RawIam) -> None:
    iam.client.create_role(RoleName="Window", AssumeRolePolicyDocument=version(0))
    iam.client.update_assume_role_policy(RoleName="Window", PolicyDocument=version(1))
    time.sleep(1.3)  # V0 stopped being current 1.3 s ago: outside a 1 s window
    moto.set_iam_read_lag(1.0, probability=1.0)
    iam.client.update_assume_role_policy(RoleName="Window", PolicyDocument=version(2))
    assert {iam.get("Window")[0] for _ in range(30)} == {"V1"}
    time.sleep(1.1)
    assert {iam.get("Window")[0] for _ in range(10)} == {"V2"}


def test_writes_land_on_the_latest_version_and_consistent_reads_see_it(moto: MotoServer, iam: RawIam) -> None:
    consistent = RawIam(moto, consistent=True)
    iam.client.create_role(RoleName="Durable", AssumeRolePolicyDocument=version(0))
    moto.set_iam_read_lag(3.0, probability=1.0)
    iam.client.update_assume_role_policy(RoleName="Durable", PolicyDocument=version(1))
    assert iam.get("Durable")[0] == "V0"  # the write is not visible yet...
    assert consistent.get("Durable")[0] == "V1"  # ...but it is stored
    iam.client.update_assume_role_policy(RoleName="Durable", PolicyDocument=version(2))
    assert consistent.get("Durable")[0] == "V2"
    assert {iam.get("Durable")[0] for _ in range(30)} == {"V0", "V1"}
    # A role created while the lag is on has no earlier version: its first read is the document it was created with.
    iam.client.create_role(RoleName="Fresh", AssumeRolePolicyDocument=version(7))
    assert iam.get("Fresh")[0] == "V7"


def test_probability_is_per_read(moto: MotoServer, iam: RawIam) -> None:
    iam.client.create_role(RoleName="Half", AssumeRolePolicyDocument=version(0))
    moto.set_iam_read_lag(10.0, probability=0.5, seed=3)
    iam.client.update_assume_role_policy(RoleName="Half", PolicyDocument=version(1))
    answers = Counter(iam.get("Half")[0] for _ in range(80))
    assert 20 <= answers["V0"] <= 60 and answers["V0"] + answers["V1"] == 80, answers


def test_zero_and_reset_turn_the_lag_off(moto: MotoServer, iam: RawIam) -> None:
    iam.client.create_role(RoleName="Off", AssumeRolePolicyDocument=version(0))
    previous = moto.set_iam_read_lag(10.0, probability=1.0)
    assert previous["seconds"] == 0.0
    iam.client.update_assume_role_policy(RoleName="Off", PolicyDocument=version(1))
    assert iam.get("Off")[0] == "V0"
    assert moto.set_iam_read_lag(0)["seconds"] == 10.0
    assert {iam.get("Off")[0] for _ in range(10)} == {"V1"}

    moto.set_iam_read_lag(10.0, probability=1.0, seed=5)
    iam.client.update_assume_role_policy(RoleName="Off", PolicyDocument=version(2))
    # Both earlier versions were current within the last 10 s (V0 until the V1 write a moment ago): either may answer.
    assert {iam.get("Off")[0] for _ in range(30)} == {"V0", "V1"}
    moto.reset()
    assert moto.iam_read_lag_stats()["seconds"] == 0.0
    iam.client.create_role(RoleName="Off", AssumeRolePolicyDocument=version(3))  # reset forgot every version
    moto.set_iam_read_lag(10.0, probability=1.0)
    assert iam.get("Off")[0] == "V3"


def test_a_deleted_and_recreated_role_never_shows_the_old_role(moto: MotoServer, iam: RawIam) -> None:
    moto.set_iam_read_lag(10.0, probability=1.0)
    iam.client.create_role(RoleName="Again", AssumeRolePolicyDocument=version(0))
    iam.client.update_assume_role_policy(RoleName="Again", PolicyDocument=version(1))
    iam.client.delete_role(RoleName="Again")
    iam.client.create_role(RoleName="Again", AssumeRolePolicyDocument=version(5))
    assert {iam.get("Again")[0] for _ in range(10)} == {"V5"}


def test_bad_settings_are_refused_and_thread_mode_has_no_switch(moto: MotoServer) -> None:
    with pytest.raises(ValueError):
        moto.set_iam_read_lag(1.0, probability=1.5)
    with pytest.raises(ValueError):
        moto.set_iam_read_lag(-1.0)
    with pytest.raises(MotoServerError, match="process"):
        MotoServer(mode="thread").set_iam_read_lag(1.0)
