"""kill -9 during ``export`` leaves its staging folder; the next export into the same place removes it or names it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.collection import Collection

ROOT = Path(__file__).resolve().parents[3]

EXPORT_THAT_HANGS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from core.collection import export as export_module

    real = export_module.EXPORTERS["csv"]

    def write_then_hang(folder, items, flagged, label):
        skipped = real.write(folder, items, flagged, label)
        Path(sys.argv[2]).write_text("staged")
        time.sleep(120)
        return skipped

    export_module.EXPORTERS["csv"] = export_module.Exporter(write_then_hang, real.file_name)
    from core.cli import main
    sys.exit(main(["export", sys.argv[1], "--format", "csv", "--out", sys.argv[3]]))
    """
)


@pytest.fixture
def coll(tmp_path: Path) -> Path:
    path = tmp_path / "coll"
    with Collection.create(path, "stale") as collection:
        rng = np.random.default_rng(1)
        for label in (2, 7):
            collection.add(rng.integers(0, 256, (28, 28)).astype(np.uint8), intended_label=label, method="imported")
    return path


def staging_folders(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.export-*.tmp"))


def test_a_killed_exports_staging_folder_is_removed_by_the_next_export(
    tmp_path: Path, coll: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, ready = tmp_path / "out", tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", EXPORT_THAT_HANGS, str(coll), str(ready), str(out)], env=env)
    try:
        for _ in range(600):
            if ready.exists() or child.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), "the export never reached its staging folder"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    (left,) = staging_folders(out)
    assert f".export-{child.pid}-" in left.name and (left / "items.csv").exists()
    assert not out.exists()

    assert main(["export", str(coll), "--format", "csv", "--out", str(out)]) == 0
    assert f"removed {left}" in capsys.readouterr().err
    assert staging_folders(out) == [] and (out / "items.csv").exists()


def test_a_staging_folder_whose_owner_runs_or_is_unknown_is_named_not_removed(
    tmp_path: Path, coll: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    with subprocess.Popen(["sleep", "30"]) as running:
        try:
            live = tmp_path / f".out.export-{running.pid}-abc123.tmp"
            legacy = tmp_path / ".out.export-k2j4h5g6.tmp"
            unrelated = tmp_path / ".out.import-1-abc.tmp"
            for folder in (live, legacy, unrelated):
                folder.mkdir()
            assert main(["export", str(coll), "--format", "npz", "--out", str(out)]) == 0
            err = capsys.readouterr().err
            assert f"note: {legacy}" in err and f"note: {live}" in err
            assert live.is_dir() and legacy.is_dir() and unrelated.is_dir()
        finally:
            running.kill()
