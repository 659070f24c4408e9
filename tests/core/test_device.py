"""One machine description for benchmark outputs, model cards and logs."""

from __future__ import annotations

import os

import torch

from core.device import describe_machine, machine_line


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
