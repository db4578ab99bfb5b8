"""The registry's de-identification policy: defaults, TOML keys, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.deid import DeidOption, Policy, load_policy
from workbench.deid.policy import DEFAULT_PSEUDONYM_PATTERN, STRICT_OPTIONS


def test_strict_is_the_default() -> None:
    policy = Policy.strict()
    assert policy == Policy() == load_policy(None)
    assert policy.pseudonym_pattern == DEFAULT_PSEUDONYM_PATTERN
    assert policy.accepted_options == STRICT_OPTIONS
    assert policy.accepts(DeidOption.RETAIN_LONGITUDINAL_MODIFIED_DATES)
    assert not policy.accepts(DeidOption.RETAIN_LONGITUDINAL_FULL_DATES)
    assert not policy.accepts(DeidOption.RETAIN_SAFE_PRIVATE)
    assert not policy.refuse_missing_burned_in_annotation
    assert policy.is_pseudonym("PML-0042")
    assert policy.is_pseudonym("PML-AB-12")
    assert not policy.is_pseudonym("PML-0042\n")
    assert not policy.is_pseudonym("pml-0042")
    assert not policy.is_pseudonym("Smith^John")


@pytest.mark.parametrize("nested", [False, True], ids=["top-level", "deid-table"])
def test_from_toml(tmp_path: Path, nested: bool) -> None:
    body = (
        "pseudonym_pattern = '^REG[0-9]{5}$'\n"
        "accepted_options = ['113107', 'RETAIN_DEVICE_IDENTITY', 'clean_descriptors']\n"
        "refuse_missing_burned_in_annotation = true\n"
        "check_descriptor_text = false\n"
    )
    path = tmp_path / "policy.toml"
    path.write_text(("[registry]\nname = 'x'\n[deid]\n" + body) if nested else body)
    policy = Policy.from_toml(path)
    assert policy.is_pseudonym("REG00042")
    assert policy.accepted_options == {
        DeidOption.RETAIN_LONGITUDINAL_MODIFIED_DATES,
        DeidOption.RETAIN_DEVICE_IDENTITY,
        DeidOption.CLEAN_DESCRIPTORS,
    }
    assert policy.refuse_missing_burned_in_annotation
    assert not policy.check_descriptor_text


def test_missing_keys_keep_the_strict_values(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[deid]\nrefuse_missing_burned_in_annotation = true\n")
    policy = Policy.from_toml(path)
    assert policy.accepted_options == STRICT_OPTIONS
    assert policy.pseudonym_pattern == DEFAULT_PSEUDONYM_PATTERN


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("pseudonym = 'x'", "unknown policy key"),
        ("pseudonym_pattern = '(['", "not a regular expression"),
        ("pseudonym_pattern = '.*'", "must not match the empty string"),
        ("accepted_options = ['999999']", "unknown de-identification option"),
        ("accepted_options = '113107'", "must be a list"),
        ("accepted_options = ['113100']", "always required"),
        ("check_descriptor_text = 'yes'", "true or false"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_bad_policy_files(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(body + "\n")
    with pytest.raises(ValueError, match=message):
        Policy.from_toml(path)


def test_policy_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Policy.strict().pseudonym_pattern = "x"  # type: ignore[misc]
