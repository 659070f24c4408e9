"""The keywords that build an item (``ItemFields``) mirror the fields of :class:`Item` they set."""

from __future__ import annotations

import dataclasses
import typing

from core.collection import Item
from core.collection.validation import ItemFields


def test_every_item_keyword_sets_the_item_field_of_the_same_name_and_type() -> None:
    item_types = typing.get_type_hints(Item)
    keyword_types = typing.get_type_hints(ItemFields)
    assert set(keyword_types) - set(item_types) == {"allow_violation"}
    for name, hint in keyword_types.items():
        if name != "allow_violation":
            assert hint in (item_types[name], item_types[name] | None), name


def test_an_item_field_without_a_keyword_is_one_the_collection_sets_itself() -> None:
    keywords = set(typing.get_type_hints(ItemFields))
    computed = {"id", "image", "distances", "budget_violation", "author", "created", "modified"}
    file_names = {"image_file", "original_file"}
    assert {field.name for field in dataclasses.fields(Item)} - keywords == computed | file_names
