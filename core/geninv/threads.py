"""How many torch CPU threads GenInv uses."""

from __future__ import annotations

from core.device import requested_threads


def geninv_threads(requested: int | None) -> int:
    """Torch threads for GenInv on CPU: ``requested``, else ``$INVARIANCE_THREADS``, else 1.

    GenInv works on many small tensors; on our 2-core machine shared with other jobs, 2 threads cost ~10x
    the CPU time of 1 thread (1.5 s vs 0.15 s per ℓ0 example) for no gain in wall time.
    """
    return requested_threads(requested, fallback=1)
