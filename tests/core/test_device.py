"""One machine description for benchmark outputs, model cards and logs; one place that reads $INVARIANCE_THREADS."""

from __future__ import annotations

import os

import pytest
import torch

from core.device import configure_threads, describe_machine, machine_line, requested_threads
from core.errors import InvarianceError
from core.geninv.threads import geninv_threads


def test_machine_description_names_cpu_cores_threads_and_device() -> None:
    machine = describe_machine(torch.device("cpu"))
    assert set(machine) == {"cpu", "usable_cores", "torch_threads", "torch", "python", "device"}
    assert machine["usable_cores"] == len(os.sched_getaffinity(0))
    assert machine["torch_threads"] == torch.get_num_threads() and machine["device"] == "cpu"
    assert machine["cpu"] and machine["torch"] == torch.__version__


def test_machine_line_is_the_description_in_one_line() -> None:
    machine = describe_machine(torch.device("cpu"))
    line = machine_line(torch.device("cpu"))
    expected = f"cpu ({machine['cpu']}, {machine['usable_cores']} cores, {machine['torch_threads']} torch threads)"
    assert line == expected and "\n" not in line


def test_threads_come_from_the_option_then_the_environment_then_the_callers_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INVARIANCE_THREADS", "3")
    assert requested_threads(2) == 2 and requested_threads() == 3 and requested_threads(fallback=1) == 3
    monkeypatch.setenv("INVARIANCE_THREADS", "0")
    assert requested_threads() == len(os.sched_getaffinity(0)) and requested_threads(fallback=1) == 1
    monkeypatch.delenv("INVARIANCE_THREADS")
    assert requested_threads() == len(os.sched_getaffinity(0))
    assert geninv_threads(None) == 1 and geninv_threads(4) == 4  # GenInv's default stays one thread


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_a_bad_threads_setting_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("INVARIANCE_THREADS", value)
    with pytest.raises(InvarianceError, match=f"INVARIANCE_THREADS='{value}': use a whole number"):
        requested_threads()
    with pytest.raises(InvarianceError, match="--threads must be >= 1"):
        requested_threads(0)


def test_configure_threads_sets_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    monkeypatch.setenv("INVARIANCE_THREADS", "1")
    try:
        assert configure_threads(2) == 2 == torch.get_num_threads()
        assert configure_threads() == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
