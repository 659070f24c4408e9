"""Where Invariance Lab keeps its files: one app name for the user data folder and the cache.

- The **user data folder** holds what the user made: models (``models/``), collections (``collections/``) and
  studies (``studies/``). ``$INVARIANCE_USER_DIR`` overrides it.
- The **cache** holds what can be rebuilt, the verified MNIST arrays. ``$INVARIANCE_DATA_DIR`` overrides it.
- The **checkpoints** are the shipped zoo: weights, model cards and per-image evaluation records. They install as
  the data package ``invariance_checkpoints`` (the repository's ``checkpoints/`` folder: an editable install maps it
  there, a wheel carries a copy). ``$INVARIANCE_CHECKPOINTS`` overrides it.
- **Runs** hold what training writes while it works: resumable state, console output and the training log.
  ``$INVARIANCE_RUNS`` overrides it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Final

import platformdirs

from core.errors import ModelError

APP_NAME: Final = "invariance-lab"
LEGACY_USER_DIR_NAME: Final = "InvarianceLab"
"""The user data folder's name before it became :data:`APP_NAME`."""
USER_DIR_ENV: Final = "INVARIANCE_USER_DIR"
CACHE_DIR_ENV: Final = "INVARIANCE_DATA_DIR"
CHECKPOINTS_ENV: Final = "INVARIANCE_CHECKPOINTS"
RUNS_ENV: Final = "INVARIANCE_RUNS"
CHUNKS_ENV: Final = "INVARIANCE_CHUNKS"
CHECKPOINTS_PACKAGE: Final = "invariance_checkpoints"
"""The data package (no code, no ``__init__``) that pyproject.toml maps to the repository's ``checkpoints/``."""


def user_data_dir() -> Path:
    """``$INVARIANCE_USER_DIR``, else the platform's user data folder ``invariance-lab``.

    Nothing the user made is lost or moved: when the folder of earlier versions (``InvarianceLab``, same parent)
    exists and ``invariance-lab`` does not, the earlier folder stays the user data folder. Nothing is renamed,
    copied or deleted; a user who wants the new name moves the folder themselves.
    """
    override = os.environ.get(USER_DIR_ENV)
    if override:
        return Path(override)
    current = platformdirs.user_data_path(APP_NAME, appauthor=False)
    legacy = platformdirs.user_data_path(LEGACY_USER_DIR_NAME, appauthor=False)
    return legacy if legacy.is_dir() and not current.exists() else current


def cache_dir() -> Path:
    """``$INVARIANCE_DATA_DIR``, else the platform's user cache folder ``invariance-lab``."""
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override) if override else platformdirs.user_cache_path(APP_NAME)


def checkpoints_dir() -> Path:
    """``$INVARIANCE_CHECKPOINTS``, else the installed ``invariance_checkpoints`` data package's folder.

    The one way to find the checkpoints, from a checkout (editable install), a ``pip install .`` or a wheel, run
    from any working folder. Raises :class:`core.errors.ModelError` when neither is there.
    """
    override = os.environ.get(CHECKPOINTS_ENV)
    if override:
        return Path(override)
    spec = importlib.util.find_spec(CHECKPOINTS_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if Path(location).is_dir():
            return Path(location)
    raise ModelError(
        f"the model checkpoints are not installed (no {CHECKPOINTS_PACKAGE} package): reinstall invariance-lab "
        f"or set ${CHECKPOINTS_ENV} to a checkpoints folder"
    )


def runs_dir() -> Path:
    """``$INVARIANCE_RUNS``, else ``runs/`` in the user data folder: training state, console output and logs."""
    override = os.environ.get(RUNS_ENV)
    return Path(override) if override else user_data_dir() / "runs"


def run_dir(name: str) -> Path:
    """Where training ``name`` keeps its resumable state, its log (``train.log``) and, as a child, its console."""
    return runs_dir() / name


def chunks_dir() -> Path:
    """``$INVARIANCE_CHUNKS``, else ``eval-chunks/`` in the cache: the finished chunks of sharded evaluations, which a
    rerun of the same command reuses."""
    override = os.environ.get(CHUNKS_ENV)
    return Path(override) if override else cache_dir() / "eval-chunks"
