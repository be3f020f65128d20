"""``quick_init``: a frozen dataclass built in one step is the same value as one built field by field."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from reconciler.frozen import quick_init
from reconciler.live import LiveModel
from reconciler.plan import Action, ActionKind


@dataclass(frozen=True)
class Plain:
    name: str
    count: int = 0
    tags: tuple[str, ...] = ()
    extra: dict[str, int] = field(default_factory=dict)


@quick_init
@dataclass(frozen=True)
class Quick:
    name: str
    count: int = 0
    tags: tuple[str, ...] = ()
    extra: dict[str, int] = field(default_factory=dict)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("a",), {}),
        (("a", 2), {"tags": ("x",)}),
        ((), {"name": "b", "extra": {"k": 1}, "count": 3}),
    ],
)
def test_same_fields_defaults_and_equality_as_the_dataclass_init(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    quick = Quick(*args, **kwargs)  # type: ignore[arg-type]
    plain = Plain(*args, **kwargs)  # type: ignore[arg-type]
    assert vars(quick) == vars(plain)
    assert list(vars(quick)) == [f.name for f in dataclasses.fields(Quick)]
    assert quick == Quick(*args, **kwargs)  # type: ignore[arg-type]
    assert repr(quick).removeprefix("Quick") == repr(plain).removeprefix("Plain")


def test_a_default_factory_gives_each_instance_its_own_value() -> None:
    first, second = Quick("a"), Quick("b")
    assert first.extra == {} and first.extra is not second.extra


def test_it_stays_frozen_and_replace_works() -> None:
    quick = Quick("a", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.count = 2  # type: ignore[misc]
    assert dataclasses.replace(quick, count=5) == Quick("a", 5)


def test_missing_and_unknown_arguments_are_refused_as_before() -> None:
    with pytest.raises(TypeError):
        Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Quick("a", colour="red")  # type: ignore[call-arg]


def test_only_plain_frozen_dataclasses_are_accepted() -> None:
    @dataclass
    class Mutable:
        name: str

    @dataclass(frozen=True)
    class Checked:
        name: str

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True)
    class Computed:
        name: str
        length: int = field(init=False, default=0)

    for cls in (Mutable, Checked, Computed):
        with pytest.raises(TypeError, match="not a plain frozen dataclass"):
            quick_init(cls)


def test_listed_models_and_actions_keep_their_defaults() -> None:
    live = LiveModel(name="tunedModels/a")
    assert live.state == "STATE_UNSPECIFIED" and live.hyperparameters == {}
    assert live.hyperparameters is not LiveModel(name="tunedModels/b").hyperparameters
    action = Action(model="a", address="TunedModel/a", name="tunedModels/a", kind=ActionKind.NOOP)
    assert action.reasons == () and action.spec is None and action.cleanup == ()
    assert dataclasses.replace(action, kind=ActionKind.EVALUATE).kind is ActionKind.EVALUATE
