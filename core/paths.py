"""Where Invariance Lab keeps its files: one app name for the user data folder and the cache.

- The **user data folder** holds what the user made: models (``models/``), collections (``collections/``) and
  studies (``studies/``). ``$INVARIANCE_USER_DIR`` overrides it.
- The **cache** holds what can be rebuilt, the verified MNIST arrays. ``$INVARIANCE_DATA_DIR`` overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import platformdirs

APP_NAME: Final = "invariance-lab"
LEGACY_USER_DIR_NAME: Final = "InvarianceLab"
"""The user data folder's name before it became :data:`APP_NAME`."""
USER_DIR_ENV: Final = "INVARIANCE_USER_DIR"
CACHE_DIR_ENV: Final = "INVARIANCE_DATA_DIR"


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
