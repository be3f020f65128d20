"""The values a plan is made of: action kinds, actions, the plan, its options. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from reconciler.diff import FieldChange
from reconciler.frozen import quick_init
from reconciler.spec import AppliedSpec, DatasetRef


class ActionKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    RECREATE = "recreate"
    DELETE = "delete"
    WAIT = "wait"
    EVALUATE = "evaluate"
    NOOP = "noop"


# Human titles, Terraform style; every kind has one (a test checks the table is closed).
TITLES: Mapping[ActionKind, str] = {
    ActionKind.CREATE: "+ create",
    ActionKind.UPDATE: "~ update in-place",
    ActionKind.REPLACE: "-/+ replace",
    ActionKind.RECREATE: "+ recreate",
    ActionKind.DELETE: "- delete",
    ActionKind.WAIT: "… wait",
    ActionKind.EVALUATE: "? evaluate",
    ActionKind.NOOP: "  noop",
}

# Kinds that send a create request (and so train, and take tuning steps).
CREATING_KINDS = frozenset({ActionKind.CREATE, ActionKind.REPLACE, ActionKind.RECREATE})

NOTE_ADOPT = "adopting an interrupted create"
NOTE_UNKNOWN_DATA = "training data unknown until the next replace"
NOTE_NOT_LIVE = "not live: only the state record is removed"
NOTE_IN_FLIGHT = "tuning in progress"
REASON_INTERRUPTED = "interrupted create never reached the API"
REASON_REPLACEMENT_INTERRUPTED = "replacement interrupted"
NOTE_UNAVAILABLE = "deleteBeforeCreate: the model is unavailable until its successor is ACTIVE"
REASON_NEW = "new in the manifests"
REASON_OUT_OF_BAND = "deleted outside the reconciler"
REASON_INTERRUPTED_DELETE = "deleted by an interrupted destroy or apply, not outside the reconciler"
REASON_REMOVED = "removed from the manifests"
REASON_FAILED = "live model is FAILED"
REASON_FORCED = "replacement requested with --replace"


@quick_init  # one per model: 10,000 in a large plan
@dataclass(frozen=True)
class Action:
    """One step of a plan, with everything apply needs and a saved plan records."""

    model: str  # manifest name == tunedModelId
    address: str  # "TunedModel/<name>"
    name: str  # "tunedModels/<id>"
    kind: ActionKind
    update_mask: tuple[str, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    reasons: tuple[str, ...] = ()
    spec: AppliedSpec | None = None  # what create sends / what state records as applied
    depends_on: str | None = None
    estimated_steps: int = 0  # for create/replace/recreate
    prevent_destroy: bool = False
    live_update_time: str | None = None  # as seen when planning (a saved plan checks it)
    live_state: str | None = None  # None: not live
    dataset: DatasetRef | None = None
    notes: tuple[str, ...] = ()
    # createBeforeDestroy: the live name of the generation this replace creates
    # (or this wait follows) while ``name`` keeps serving.
    successor: str | None = None
    # Live names of this model's earlier generations or failed candidates that
    # the action deletes first (they no longer serve).
    cleanup: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @property
    def tuned_name(self) -> str:
        """The live model whose tuning this action starts or follows."""
        return self.successor or self.name


@dataclass(frozen=True)
class Plan:
    """Actions in execution order, and the state they were planned against."""

    actions: tuple[Action, ...]
    state_lineage: str
    state_serial: int
    refresh_only: bool = False
    backend: str = "gemini"  # Capabilities.backend of the API planned against
    target: str = ""  # where on it (a Vertex AI project and location); "" on the Gemini API

    def summary(self) -> dict[str, int]:
        """Count per kind, every kind present, in ``ActionKind`` order."""
        counts = {kind.value: 0 for kind in ActionKind}
        for action in self.actions:
            counts[action.kind.value] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        """Anything other than noop (or a noop that deletes a leftover generation):
        what ``--detailed-exitcode`` reports as 2."""
        return any(action.kind is not ActionKind.NOOP or action.cleanup for action in self.actions)


@dataclass(frozen=True)
class PlanOptions:
    targets: frozenset[str] = frozenset()
    replace: frozenset[str] = frozenset()
    refresh_only: bool = False
