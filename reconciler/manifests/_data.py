"""Loading one dataset a manifest declares: inline examples or a data file, checked and hashed."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from reconciler.datafiles import read_data_file
from reconciler.datasets import build_dataset, canonical_text, check_examples, resolve_data_file
from reconciler.errors import Diagnostic, SourceLocation
from reconciler.manifests._yaml import RawDocument
from reconciler.repofiles import resolved_root
from reconciler.spec import DatasetSpec, Example, LoadedDataset


@dataclass(frozen=True)
class DataContext:
    """What reading a data file needs: where the manifest really is, and the root it must stay in."""

    real_files: dict[str, Path]  # display path -> real path of each manifest file
    root: Path
    allow_outside_root: bool


def load_dataset(
    name: str,
    spec: DatasetSpec,
    doc: RawDocument,
    path: str,
    context: DataContext,
    diagnostics: list[Diagnostic],
) -> LoadedDataset | None:
    """Inline examples or a data file -> a checked dataset (None when it has errors)."""
    location = doc.location(path) if path != "spec" else doc.location("metadata.name")
    examples: list[Example] = []
    problems: list[Diagnostic] = []
    if spec.examples is not None:
        for index, example in enumerate(spec.examples):
            where = doc.location(f"{path}.examples.{index}")
            if not example.output.strip():
                problems.append(
                    Diagnostic(
                        doc.location(f"{path}.examples.{index}.output"),
                        "example has an empty `output`",
                        field=f"{path}.examples.{index}.output",
                    )
                )
            examples.append(
                Example(canonical_text(example.textInput), canonical_text(example.output), where)
            )
    elif spec.file is not None:
        real_manifest = context.real_files[doc.file]
        display = posixpath.normpath(posixpath.join(posixpath.dirname(doc.file), spec.file))
        data_path, refused = resolve_data_file(
            spec.file,
            manifest_dir=real_manifest.parent,
            root=context.root,
            allow_outside_root=context.allow_outside_root,
        )
        if refused is not None:
            diagnostics.append(
                Diagnostic(
                    doc.location(f"{path}.file"),
                    refused.message,
                    field=f"{path}.file",
                    hint=refused.hint,
                )
            )
            return None
        inside = data_path.is_relative_to(resolved_root(context.root))
        if inside and (posixpath.isabs(spec.file) or os.path.isabs(spec.file)):
            problems.append(
                _absolute_path_warning(
                    spec.file,
                    manifest=real_manifest,
                    where=doc.location(f"{path}.file"),
                    field=f"{path}.file",
                )
            )
        result = read_data_file(
            data_path,
            display=display,
            input_field=spec.inputField,
            output_field=spec.outputField,
        )
        if not data_path.exists():
            problems.append(
                Diagnostic(
                    doc.location(f"{path}.file"),
                    f"data file `{spec.file}` not found (looked for {display})",
                    field=f"{path}.file",
                    hint=_missing_file_hint(spec.file),
                )
            )
        else:
            problems.extend(result.diagnostics)
        examples = result.examples
    else:
        return None
    if examples or not problems:
        problems.extend(check_examples(examples, name=name, location=location))
    diagnostics.extend(problems)
    if any(p.severity == "error" for p in problems):
        return None
    return build_dataset(name=name, examples=examples, location=location)


def _absolute_path_warning(
    file: str, *, manifest: Path, where: SourceLocation, field: str
) -> Diagnostic:
    """An absolute data path inside the repository works only in this checkout."""
    relative = Path(os.path.relpath(file, manifest.parent.absolute())).as_posix()
    return Diagnostic(
        where,
        f"data file `{file}` is an absolute path: the repository will not work from "
        "another checkout or machine",
        severity="warning",
        field=field,
        hint=f"write it relative to this manifest: `{relative}`",
    )


def _missing_file_hint(file: str) -> str | None:
    """Why a data path that looks right to its author was not found."""
    if file.startswith("~"):
        return "`~` is not expanded: write the path relative to this manifest"
    if "\\" in file:
        return "use `/` between directories, also on Windows"
    return None
