"""The public enums are their wire strings wherever they end up: str(), f-strings, JSON, ==."""

from __future__ import annotations

import json
from enum import Enum

import pytest

from smtp_connector import Cause, ContentType, ErrorCode, UsageType


@pytest.mark.parametrize("member", [*ErrorCode, *Cause, *UsageType, *ContentType], ids=str)
def test_member_reads_as_its_value(member: Enum) -> None:
    value = member.value
    assert str(member) == value
    assert f"{member}" == value
    assert f"{member:>1}" == value
    assert json.dumps({"code": member}) == json.dumps({"code": value})
    assert member == value
    assert member.__class__(value) is member
