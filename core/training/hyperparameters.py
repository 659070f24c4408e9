"""Typed hyper-parameters: each recipe's settings are a frozen dataclass, checked once when they are read.

A zoo entry (``core.zoo.registry``) and a model card record the hyper-parameters as a plain JSON object; the recipe
that trains the entry reads them into its :class:`Hyperparameters` subclass with :meth:`Hyperparameters.parse`,
which refuses an unknown key, a missing required one, a value of the wrong type or out of range, each with one
:class:`ModelError` line that names the model and the key. Defaults live on the dataclass fields, in one place.
Declare a field with :func:`setting` to give it a range.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from types import NoneType, UnionType
from typing import Any, Literal, Self

from core.errors import ModelError


def setting(
    default: Any = MISSING,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
) -> Any:
    """A hyper-parameter field: ``default`` (none: required), and its range: ``minimum`` ≤ value, ``above`` <
    value, value ≤ ``maximum``."""
    metadata = {"minimum": minimum, "above": above, "maximum": maximum}
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True, kw_only=True)
class Hyperparameters:
    """What every recipe accepts: the mini-batch size, and a zoo model whose weights training starts from (same
    architecture; see ``core.training.run``)."""

    batch_size: int = setting(100, minimum=1)
    init_from: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str) -> Self:
        """``raw`` (a zoo entry's or a card's hyper-parameters) as this dataclass; ``where`` names its owner in
        errors (e.g. ``"model 'abs' (recipe 'abs')"``). Raises :class:`ModelError`."""
        if not isinstance(raw, Mapping):
            raise ModelError(f"{where}: hyper-parameters must be a JSON object, not {type(raw).__name__}")
        declared = {item.name: item for item in fields(cls)}
        unknown = sorted(str(key) for key in raw if key not in declared)
        if unknown:
            raise ModelError(
                f"{where}: unknown hyper-parameter {unknown[0]!r} (this recipe takes {', '.join(sorted(declared))})"
            )
        missing = [name for name, item in declared.items() if item.default is MISSING and name not in raw]
        if missing:
            raise ModelError(f"{where}: the recipe needs hyper-parameter {missing[0]!r}")
        hints = typing.get_type_hints(cls)
        values = {
            name: _checked(where, name, value, hints[name], declared[name].metadata) for name, value in raw.items()
        }
        parsed = cls(**values)
        parsed.check(where)
        return parsed

    def check(self, where: str) -> None:
        """Rules that span several fields; a subclass raises :class:`ModelError` (naming ``where``) when one fails."""

    def to_json(self) -> dict[str, Any]:
        """Every field, defaults included, as a JSON object (what a model card records; :meth:`parse` reads it)."""
        return dataclasses.asdict(self)


_KIND_NAMES: dict[Any, str] = {int: "a whole number", float: "a finite number", bool: "true or false", str: "a string"}


def _checked(where: str, name: str, value: Any, kind: Any, limits: Mapping[str, Any]) -> Any:
    """``value`` converted to ``kind`` (int, float, bool, str, a ``Literal`` or one of them ``| None``), in range."""
    options = typing.get_args(kind) if isinstance(kind, UnionType) or typing.get_origin(kind) is typing.Union else ()
    if options:
        if value is None and NoneType in options:
            return None
        (kind,) = [option for option in options if option is not NoneType]
    if typing.get_origin(kind) is Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            allowed = " or ".join(repr(choice) for choice in choices)
            raise ModelError(f"{where}: hyper-parameter {name!r} must be {allowed}, not {value!r}")
        return value
    accepted = {
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
        bool: isinstance(value, bool),
        str: isinstance(value, str),
    }
    if not accepted.get(kind, False):
        wanted = _KIND_NAMES.get(kind, str(kind))
        raise ModelError(f"{where}: hyper-parameter {name!r} must be {wanted}, not {value!r}")
    converted = float(value) if kind is float else value
    minimum, above, maximum = limits.get("minimum"), limits.get("above"), limits.get("maximum")
    if (
        (minimum is not None and converted < minimum)
        or (above is not None and converted <= above)
        or (maximum is not None and converted > maximum)
    ):
        low = f">= {minimum}" if minimum is not None else f"> {above}" if above is not None else ""
        high = f"<= {maximum}" if maximum is not None else ""
        wanted = " and ".join(part for part in (low, high) if part)
        raise ModelError(f"{where}: hyper-parameter {name!r} must be {wanted}, not {value!r}")
    return converted
