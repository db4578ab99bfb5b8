"""Fixtures of the main-window tests: a real SQLite registry file, empty or with three cases.

Its first user, :data:`USERNAME`, is an administrator and coordinator whose own password is
:data:`tests.signin.TEST_PASSWORD`, so a test can sign them in as the window does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from adjudication.vocabulary import Role, TriState
from tests.signin import TEST_PASSWORD, login
from workbench.cases import NewCase, NewExposure, NewFeature, create_case, update_case
from workbench.domain import (
    CaseStatus,
    Condition,
    LabQualitative,
    LabTest,
    SequenceClass,
    Sex,
    SourceKind,
)
from workbench.labs import LabEntry, add_lab_result
from workbench.registry.db import Registry
from workbench.services import signin
from workbench.studies import SeriesRecord, add_series, add_study
from workbench.users import Actor, add_user, resolve_actor

USERNAME = "coordinator"
SHA = hashlib.sha256(b"x").hexdigest()
FLAIR_UID = "1.2.826.0.1.3680043.8.498.10000000000000000000000000000000000001"


def db_url(path: Path) -> str:
    """A SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


@pytest.fixture(autouse=True)
def settings_dir(tmp_path: Path) -> Path:
    """Per-user window settings go to a temporary folder, never to the user's own."""
    from PyQt6.QtCore import QSettings

    folder = tmp_path / "qsettings"
    folder.mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    """Where the test's registry file lives."""
    return tmp_path / "r.sqlite3"


@pytest.fixture
def ui_registry(registry_path: Path) -> Iterator[Registry]:
    """An opened, migrated, empty SQLite registry."""
    registry = Registry.open(db_url(registry_path))
    yield registry
    registry.close()


@pytest.fixture
def ui_actor(ui_registry: Registry) -> Actor:
    """The registry's first user, administrator and coordinator, with the password
    :data:`~tests.signin.TEST_PASSWORD` of their own."""
    with ui_registry.write() as session:
        add_user(
            session,
            USERNAME,
            USERNAME,
            {Role.ADMIN, Role.COORDINATOR},
            by=None,
            password=TEST_PASSWORD,
        )
        return resolve_actor(session, USERNAME)


def cli_token(url: str, username: str, password: str = TEST_PASSWORD) -> str:
    """Sign ``username`` in to ``url`` with ``pml-workbench login`` and return the session
    token the command line kept (what ``gui`` hands to the window)."""
    login(url, username, password)
    token = signin.load_token(url)
    assert token is not None, f"login {username} kept no token"
    return token


def _series(
    sequence: SequenceClass,
    uid: str | None,
    shape: tuple[int, ...],
    spacing: tuple[float, float, float],
    description: str,
    n_files: int,
) -> SeriesRecord:
    return SeriesRecord(
        source_kind=SourceKind.DICOM,
        source_uri=f"/archive/{description}",
        content_sha256=SHA,
        sequence_class=sequence,
        shape=shape,
        affine=np.diag([*spacing, 1]),
        dtype="int16",
        series_instance_uid=uid,
        description=description,
        n_files=n_files,
    )


def populate(registry: Registry, actor: Actor) -> None:
    """Three cases: PML-0001 (2 timepoints, 3 series, 2 labs), PML-0002 (1, 1, 1) and
    PML-0003 (no imaging, no labs, status ready)."""
    with registry.write() as session:
        create_case(
            session,
            actor,
            NewCase(
                registry_id="PML-0001",
                site_code="NL-AMS",
                sex=Sex.FEMALE,
                age_band="40-49",
                condition=Condition.MS_NATALIZUMAB,
                condition_detail="relapsing-remitting MS",
                clinical_summary="Subacute right hemiparesis over three weeks.",
                clinical_consistent=TriState.PRESENT,
                exposures=(NewExposure("natalizumab", -1400, -10, 48),),
                clinical_features=(
                    NewFeature("hemiparesis", TriState.PRESENT, -20),
                    NewFeature("aphasia", TriState.ABSENT),
                ),
            ),
        )
        create_case(
            session,
            actor,
            NewCase("PML-0002", "DE-BER", Sex.MALE, "30-39", Condition.HIV),
        )
        create_case(
            session,
            actor,
            NewCase("PML-0003", "NL-AMS", Sex.MALE, "60-69", Condition.HAEMATOLOGICAL_MALIGNANCY),
        )
        baseline = add_study(session, actor, "PML-0001", 0, description="baseline MRI")
        add_series(
            session,
            actor,
            baseline,
            _series(SequenceClass.FLAIR, FLAIR_UID, (176, 256, 256), (1, 1, 1), "3D FLAIR", 176),
        )
        add_series(
            session,
            actor,
            baseline,
            _series(SequenceClass.T1_GD, "1.2.3.4.2", (256, 256, 60), (0.9, 0.9, 3), "T1 post", 60),
        )
        follow_up = add_study(session, actor, "PML-0001", 90, description="follow-up")
        add_series(
            session,
            actor,
            follow_up,
            _series(SequenceClass.FLAIR, "1.2.3.4.3", (176, 256, 256), (1, 1, 1), "3D FLAIR", 176),
        )
        hiv = add_study(session, actor, "PML-0002", 0)
        add_series(
            session,
            actor,
            hiv,
            _series(SequenceClass.T2, "1.2.3.5.1", (512, 512, 30), (0.45, 0.45, 5), "T2 TSE", 30),
        )
        add_lab_result(
            session,
            actor,
            LabEntry(
                "PML-0001",
                LabTest.CSF_JCV_PCR,
                3,
                LabQualitative.DETECTED,
                520,
                "copies/mL",
                assay="ultrasensitive JCV PCR",
                lod=10,
                loq=50,
            ),
        )
        add_lab_result(
            session,
            actor,
            LabEntry(
                "PML-0001",
                LabTest.SERUM_JCV_ANTIBODY_INDEX,
                -30,
                LabQualitative.QUANTITATIVE,
                3.1,
                "index",
            ),
        )
        add_lab_result(
            session,
            actor,
            LabEntry("PML-0002", LabTest.CD4_COUNT, 0, LabQualitative.QUANTITATIVE, 85, "cells/uL"),
        )
    with registry.write() as session:
        update_case(session, actor, "PML-0003", 1, {"status": CaseStatus.READY})


@pytest.fixture
def populated(ui_registry: Registry, ui_actor: Actor) -> Registry:
    """The registry with the three cases of :func:`populate`."""
    populate(ui_registry, ui_actor)
    return ui_registry
