"""The review configuration file: defaults, values, and errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from adjudication.consensus import DEFAULT_MEANING
from workbench.review_config import (
    REVIEW_CONFIG_ENV,
    ReviewConfigError,
    config_path,
    load_review_config,
)


def test_no_file_gives_the_defaults() -> None:
    config = load_review_config()
    assert config.source is None
    assert config.signatures_required == 2
    assert config.signature_meaning == DEFAULT_MEANING
    assert config.discordance.min_dice == 0.5


def test_values_come_from_the_data_directory_file() -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[discordance]\nmin_lesion_ml = 0.2\nvolume_fraction = 0.3\nmin_dice = 1\n"
        '[signatures]\nrequired = 3\nmeaning = "approved"\n'
    )
    config = load_review_config()
    assert config.source == path
    assert config.discordance.as_dict() == {
        "min_lesion_ml": 0.2,
        "volume_fraction": 0.3,
        "min_dice": 1.0,
    }
    assert (config.signatures_required, config.signature_meaning) == (3, "approved")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[discordance]\nmin_dice = 1.5\n", r"\[discordance\] min_dice must be in \[0, 1\]"),
        ("[discordance]\nmin_dice = 'half'\n", r"\[discordance\] min_dice: 'half' is not a num"),
        ("[discordance]\ndice = 0.5\n", r"\[discordance\] dice: unknown key"),
        ("[signatures]\nrequired = 0\n", r"\[signatures\] required: 0"),
        ("[signatures]\nrequired = 1.5\n", r"required: 1.5 is not a whole number"),
        ("[signatures]\nmeaning = ''\n", r"meaning: '' is not a non-empty text"),
        ("[panel]\nrequired = 2\n", r"unknown section \[panel\]"),
        ("[signatures\n", r"not valid TOML"),
    ],
)
def test_bad_values_are_refused_naming_the_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "review.toml"
    path.write_text(text)
    with pytest.raises(ReviewConfigError, match=message) as caught:
        load_review_config(path)
    assert str(path) in str(caught.value)


def test_a_named_file_that_is_missing_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REVIEW_CONFIG_ENV, str(tmp_path / "nope.toml"))
    with pytest.raises(ReviewConfigError, match=r"nope\.toml: review configuration file not found"):
        load_review_config()
