"""Keys: config.toml's [keymap] table (binding id = "keys") over the bindings' ids, and the keys each
binding of a screen has now, for the help and the command palette."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen


def _bindings(owner: type[DOMNode]) -> list[Binding]:
    return [binding for binding in owner.BINDINGS if isinstance(binding, Binding)]


def binding_ids(owners: Iterable[type[DOMNode]]) -> set[str]:
    """The ids of the bindings these classes declare: what a [keymap] entry may name."""
    return {binding.id for owner in owners for binding in _bindings(owner) if binding.id is not None}


def unknown_ids(keymap: Mapping[str, str], known: set[str]) -> list[str]:
    return sorted(set(keymap) - known)


def _keys(keys: str) -> set[str]:
    """Keys as Textual names them ("?" is question_mark)."""
    return {binding.key for binding in Binding.make_bindings([Binding(keys, "")])}


def taken_keys(keymap: Mapping[str, str], app: type[DOMNode], screens: Iterable[type[DOMNode]]) -> list[str]:
    """Keys the keymap gives a binding that another binding of the same screen, or of the app, keeps and
    so loses ("r (was retry)"): Textual doesn't say."""
    taken = set()
    for screen in screens:
        together = _bindings(screen) + _bindings(app)
        kept = {key: b.id for b in together if b.id not in keymap for key in _keys(b.key)}
        for binding in together:
            if binding.id is not None and binding.id in keymap:
                taken |= {f"{key} (was {kept[key]})" for key in _keys(keymap[binding.id]) if key in kept}
    return sorted(taken)


@dataclass(frozen=True)
class BoundKey:
    keys: str  # as shown: every key that runs it, after the keymap
    binding: Binding
    node: DOMNode  # where its action runs


def bound_keys(app: App[Any], screen: Screen[Any]) -> list[BoundKey]:
    """Each binding active on `screen` that has an id and says what it does, with the keys that run it
    now, in the footer's order. A key another binding takes first (`q` on a screen where it means back)
    is not listed for the one it hides."""
    found: dict[str, tuple[list[str], Binding, DOMNode]] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.id is None or not binding.description:
            continue
        keys, _, _ = found.setdefault(binding.id, ([], binding, active.node))
        keys.append(app.get_key_display(binding))
    return [BoundKey(", ".join(keys), binding, node) for keys, binding, node in found.values()]
