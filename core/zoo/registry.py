"""The model zoo: which models exist, how each is trained, and how to load one.

Every model and its recipe's hyper-parameters are stated once, in the declarative table ``zoo.toml`` beside this
module, which :func:`read_table` checks and turns into :class:`ZooEntry` values; ``core.training.run`` turns an
entry into a checkpoint (``checkpoints/<name>.safetensors``) and a model card (``checkpoints/<name>.json``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

from core.errors import ModelError


@dataclass(frozen=True)
class ZooEntry:
    """One model of the zoo.

    ``norm``/``eps`` give the threat model it was trained against (``None`` for undefended / ABS);
    ``certified`` models are plain Sequential networks whose robustness ``core.certify`` can verify;
    ``slow`` models take far longer than a feed-forward pass (the editor updates them asynchronously);
    ``origin`` is ``"zoo"`` for the shipped models and ``"user"`` for models added with ``invariance models add``.
    """

    name: str
    family: str
    description: str
    architecture: str
    recipe: str
    norm: str | None = None
    eps: float | None = None
    certified: bool = False
    slow: bool = False
    hyper: dict[str, Any] = field(default_factory=dict)
    origin: str = "zoo"

    @property
    def init_from(self) -> str | None:
        """The zoo model whose weights training starts from (hyper-parameter ``init_from``), if any."""
        return _model_name(self.hyper.get("init_from"))

    @property
    def share_weights_with(self) -> str | None:
        """The zoo model whose weights this one uses instead of training (``share_weights_with``), if any."""
        return _model_name(self.hyper.get("share_weights_with"))


def _model_name(value: Any) -> str | None:
    return str(value) if value else None


TABLE_FILE: Final = "zoo.toml"
"""The shipped zoo's declarative table (package data of ``core.zoo``; its header says how it reads)."""
TABLE_FORMAT: Final = 1
_ENTRY_TYPES: Final[dict[str, tuple[type, ...]]] = {
    **{name: (str,) for name in ("name", "family", "description", "architecture", "recipe")},
    "norm": (str,),
    "eps": (int, float),
    "certified": (bool,),
    "slow": (bool,),
    "hyper": (dict,),
}
"""What a table may set for a model, and the TOML types it takes (``origin`` is always ``"zoo"``)."""


def read_table(text: str, where: str = TABLE_FILE) -> tuple[ZooEntry, ...]:
    """The zoo entries of a table in the format of ``zoo.toml``, in order, each built by keyword.

    Raises :class:`ModelError` (one line naming ``where`` and the model) for anything the table does not allow.
    """
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ModelError(f"{where}: not valid TOML ({error})") from None
    if table.get("format_version") != TABLE_FORMAT:
        raise ModelError(f"{where}: format_version must be {TABLE_FORMAT}, got {table.get('format_version')!r}")
    defaults, presets = table.get("defaults", {}), table.get("presets", {})
    entries: list[ZooEntry] = []
    for position, row in enumerate(table.get("model", [])):
        name = row.get("name", f"#{position + 1}")
        given = {**defaults, **row}
        preset = given.pop("preset", None)
        if preset is not None and preset not in presets:
            raise ModelError(f"{where}: model {name!r}: unknown preset {preset!r}; known: {', '.join(presets)}")
        unknown = sorted(set(given) - set(_ENTRY_TYPES))
        if unknown:
            raise ModelError(f"{where}: model {name!r}: unknown key {unknown[0]!r}")
        for key, value in given.items():
            if not isinstance(value, _ENTRY_TYPES[key]) or (isinstance(value, bool) and bool not in _ENTRY_TYPES[key]):
                raise ModelError(f"{where}: model {name!r}: {key} has the wrong type ({value!r})")
        given["hyper"] = {**presets.get(preset, {}), **given.get("hyper", {})}
        try:
            entries.append(ZooEntry(**given))
        except TypeError as error:
            raise ModelError(f"{where}: model {name!r}: {error}") from None
    names = [entry.name for entry in entries]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ModelError(f"{where}: model {repeated[0]!r} appears more than once")
    return tuple(entries)


_TABLE: Final = read_table(resources.files(__package__).joinpath(TABLE_FILE).read_text(encoding="utf-8"))
"""The shipped zoo, in display order (see ``zoo.toml``)."""


ZOO: dict[str, ZooEntry] = {entry.name: entry for entry in _TABLE}


def get_entry(name: str) -> ZooEntry:
    try:
        return ZOO[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(ZOO)}") from None


def list_models() -> list[str]:
    """Every registry name, in display order."""
    return list(ZOO)
