"""PropertyCollector helpers: many objects' properties in one RetrievePropertiesEx, plus its continuation pages.

Reading properties one object at a time costs one round-trip each; everything the adapter reads in bulk goes through
:func:`retrieve`. Container views are destroyed in ``finally`` so a failed read leaves no view behind on the server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim, vmodl

from controller.vsphere._faults import guard

__all__ = ["Fetched", "container_view", "retrieve", "upward_traversal", "view_traversal"]

_PC = vmodl.query.PropertyCollector


@dataclass(frozen=True)
class Fetched:
    """One object's retrieved properties; unset properties are absent from ``props``."""

    ref: Any  # the pyVmomi managed object
    props: Mapping[str, Any]

    @property
    def moid(self) -> str:
        return str(self.ref._moId)

    def get(self, name: str, default: Any = None) -> Any:
        return self.props.get(name, default)


@contextlib.contextmanager
def container_view(content: Any, types: Sequence[type], *, what: str) -> Iterator[Any]:
    """A recursive ContainerView of ``types`` under the root folder, destroyed on exit."""
    with guard(f"creating a container view for {what}"):
        view = content.viewManager.CreateContainerView(content.rootFolder, list(types), True)
    try:
        yield view
    finally:
        with guard(f"destroying the container view for {what}"):
            view.DestroyView()


def view_traversal(view: Any) -> Any:
    """An ObjectSpec selecting every object of a container view, but not the view itself."""
    spec = _PC.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)
    return _PC.ObjectSpec(obj=view, skip=True, selectSet=[spec])


def upward_traversal(obj: Any, *, also: Sequence[Any] = ()) -> Any:
    """An ObjectSpec selecting ``obj`` and every ancestor up to the root folder (by ``parent``).

    ``also`` are TraversalSpecs tried on every ancestor, e.g. a datacenter's ``network`` list.
    """
    spec = _PC.TraversalSpec(
        name="up", path="parent", skip=False, type=vim.ManagedEntity, selectSet=[_PC.SelectionSpec(name="up"), *also]
    )
    return _PC.ObjectSpec(obj=obj, skip=False, selectSet=[spec])


def retrieve(
    content: Any, objects: Sequence[Any], properties: Mapping[type, Sequence[str]], *, what: str
) -> list[Fetched]:
    """Read ``properties`` (per managed type) of the objects the ObjectSpecs select, following every page."""
    object_specs = [o if isinstance(o, _PC.ObjectSpec) else _PC.ObjectSpec(obj=o, skip=False) for o in objects]
    prop_specs = [_PC.PropertySpec(type=kind, pathSet=list(paths), all=False) for kind, paths in properties.items()]
    spec = _PC.FilterSpec(objectSet=object_specs, propSet=prop_specs, reportMissingObjectsInResults=False)
    collector = content.propertyCollector
    fetched: list[Fetched] = []
    with guard(f"reading {what}"):
        result = collector.RetrievePropertiesEx([spec], _PC.RetrieveOptions())
        while result is not None:
            fetched.extend(
                Fetched(ref=item.obj, props={p.name: p.val for p in item.propSet or ()}) for item in result.objects
            )
            token = result.token
            result = collector.ContinueRetrievePropertiesEx(token) if token else None
    return fetched
