"""One app name for the user data folder and the cache; the folder of earlier versions keeps being used."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import data, paths
from core.zoo import user


@pytest.fixture
def platform_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The platform's data and cache folders (XDG on Linux) inside ``tmp_path``, no overrides."""
    monkeypatch.delenv(paths.USER_DIR_ENV, raising=False)
    monkeypatch.delenv(paths.CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="XDG folders: Linux")
def test_one_app_name_for_user_data_and_cache(platform_folders: Path) -> None:
    assert paths.user_data_dir() == platform_folders / "share" / "invariance-lab"
    assert paths.cache_dir() == platform_folders / "cache" / "invariance-lab"
    assert data.cache_dir().parent == paths.cache_dir()
    assert user.models_dir() == paths.user_data_dir() / "models"
    assert not (platform_folders / "share").exists()  # asking creates nothing


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="XDG folders: Linux")
def test_the_earlier_folder_stays_in_use_untouched_until_the_new_one_exists(platform_folders: Path) -> None:
    legacy = platform_folders / "share" / "InvarianceLab"
    model = legacy / "models" / "mine" / "card.json"
    model.parent.mkdir(parents=True)
    model.write_text("{}")
    assert paths.user_data_dir() == legacy
    assert user.models_dir() == legacy / "models"
    assert model.read_text() == "{}" and not (platform_folders / "share" / "invariance-lab").exists()
    (platform_folders / "share" / "invariance-lab").mkdir()
    assert paths.user_data_dir() == platform_folders / "share" / "invariance-lab"
    assert model.read_text() == "{}"  # never moved nor deleted


def test_environment_overrides_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "InvarianceLab").mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv(paths.USER_DIR_ENV, str(tmp_path / "mine"))
    monkeypatch.setenv(paths.CACHE_DIR_ENV, str(tmp_path / "arrays"))
    assert paths.user_data_dir() == tmp_path / "mine"
    assert paths.cache_dir() == tmp_path / "arrays"
    assert data.cache_dir() == tmp_path / "arrays" / data.CACHE_VERSION
