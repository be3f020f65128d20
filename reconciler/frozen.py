"""Frozen dataclasses built at the speed of plain ones. Pure.

A frozen dataclass's generated ``__init__`` stores each field through
``object.__setattr__`` (its own ``__setattr__`` refuses every assignment): a
call per field. For the values a large plan makes tens of thousands of (a
listed model, an action per model) that is most of what building them costs.
``quick_init`` gives such a class an ``__init__`` with the same parameters and
defaults that stores the instance dictionary in one step; the class stays
frozen, and equality, hashing, ``repr`` and ``dataclasses.replace`` are the
dataclass's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """``cls``, a frozen dataclass, with the fast ``__init__`` (see the module docstring).

    Only for dataclasses whose fields are all plain ``__init__`` parameters:
    no ``__post_init__``, ``InitVar``, ``field(init=False)``, keyword-only
    fields or ``__slots__`` (TypeError otherwise).
    """
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    params = getattr(cls, "__dataclass_params__", None)
    if (
        params is None
        or not params.frozen
        or hasattr(cls, "__post_init__")
        or "__slots__" in cls.__dict__
        or len(fields) != len(cls.__dataclass_fields__)  # type: ignore[attr-defined]
        or any(not f.init or f.kw_only for f in fields)
    ):
        raise TypeError(f"quick_init: {cls.__name__} is not a plain frozen dataclass")
    namespace: dict[str, Any] = {"_set": object.__setattr__, "_MISSING": dataclasses.MISSING}
    arguments = []
    factories = []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            arguments.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            arguments.append(f"{f.name}=_MISSING")
            factories.append(
                f"    if {f.name} is _MISSING:\n        {f.name} = _factory_{f.name}()\n"
            )
        else:
            arguments.append(f.name)
    values = ", ".join(f"{f.name!r}: {f.name}" for f in fields)
    source = (
        f"def __init__(self, {', '.join(arguments)}):\n"
        + "".join(factories)
        + f"    _set(self, '__dict__', {{{values}}})\n"
    )
    exec(source, namespace)  # the source is built from the field names alone
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses assigning a method
    return cls
