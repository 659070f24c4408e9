"""How many torch CPU threads GenInv uses."""

from __future__ import annotations

import os

from core.errors import InvarianceError


def geninv_threads(requested: int | None) -> int:
    """Torch threads for GenInv on CPU: ``requested``, else ``$INVARIANCE_THREADS``, else 1.

    GenInv works on many small tensors; on our 2-core machine shared with other jobs, 2 threads cost ~10x
    the CPU time of 1 thread (1.5 s vs 0.15 s per ℓ0 example) for no gain in wall time.
    """
    if requested is not None:
        if requested < 1:
            raise InvarianceError(f"--threads must be >= 1, got {requested}")
        return requested
    return int(os.environ.get("INVARIANCE_THREADS", "0")) or 1
