"""Reading experiment files: safe YAML, ``base:`` merging, validation into one-line SpecErrors.

The only module of ``workbench.spec`` that touches files. YAML is read with ``yaml.safe_load``'s loader
plus four refusals: duplicate keys (safe_load silently keeps the last), aliases that expand past
``MAX_YAML_NODES`` values (a "billion laughs" document) or refer to themselves, files over
``MAX_FILE_BYTES``, and anything but a regular file (a named pipe would block, ``/dev/zero`` never ends).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workbench.errors import SpecError
from workbench.files import read_bounded
from workbench.spec.domains import machine_problem
from workbench.spec.experiment import ExperimentSpec, TargetSpec, format_validation_error

MAX_FILE_BYTES = 1_000_000  # experiment files are a few KB; this only stops accidents
MAX_YAML_NODES = 100_000  # values after alias expansion: a large search space is ~1,000
MAX_YAML_DEPTH = 50  # nesting levels: experiment files use fewer than 10
_MERGE_TAG = "tag:yaml.org,2002:merge"  # `<<: *defaults` may repeat keys on purpose
_TOO_DEEP = f"values nested more than {MAX_YAML_DEPTH} levels deep; flatten the structure"


class _Refused(yaml.MarkedYAMLError):
    """Well-formed YAML this loader will not build; ``problem`` says why and what to do."""


def _check_expansion(root: yaml.Node) -> None:
    """Raise _Refused if the node graph, with every alias expanded, exceeds MAX_YAML_NODES values or
    MAX_YAML_DEPTH levels, or has a cycle.

    Aliases make the graph share nodes, so the sizes are computed once per node (iteratively: no
    recursion limit), and the first node over the cap is the one reported.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else (
            node.value if isinstance(node, yaml.SequenceNode) else [])
        if children_done:
            open_nodes.discard(id(node))
            total = 1 + sum(size[id(c)] for c in children)
            depth[id(node)] = 1 + max((depth[id(c)] for c in children), default=0)
            if depth[id(node)] > MAX_YAML_DEPTH:
                raise _Refused(problem=_TOO_DEEP, problem_mark=node.start_mark)  # through aliases
            if total > MAX_YAML_NODES:
                raise _Refused(problem=f"aliases expand this value to more than {MAX_YAML_NODES:,} values (an alias "
                                       "bomb); write the values out or use fewer aliases", problem_mark=node.start_mark)
            size[id(node)] = total
        elif id(node) in open_nodes:
            raise _Refused(problem="an alias refers to a value that contains it (a recursive alias); "
                                   "experiment values must be finite", problem_mark=node.start_mark)
        elif id(node) not in size:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)


class _StrictLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader that also refuses duplicate keys, deep nesting and alias bombs."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        """Stop at MAX_YAML_DEPTH levels while reading, before the scanner's cost (quadratic in the depth
        of ``[[[...``) or Python's recursion limit are reached."""
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(problem=_TOO_DEEP, problem_mark=self.peek_event().start_mark)
            node: yaml.Node = super().compose_node(parent, index)
            return node
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        """Check for duplicate keys on the composed node, before any merge (``<<``) rewrites it."""
        node: yaml.MappingNode = super().compose_mapping_node(anchor)
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            # the constructed key, so `1` and `0x1` or `yes` and `true` count as the same key, as in the dict
            key = (self.construct_object(key_node) if key_node.tag in self.yaml_constructors
                   else (key_node.tag, key_node.value))
            if key in first_line:
                raise _Refused(problem=f"duplicate key '{key_node.value}' (first on line {first_line[key]}); "
                                       "keep one of them", problem_mark=key_node.start_mark)
            first_line[key] = key_node.start_mark.line + 1
        return node

    def compose_document(self) -> yaml.Node:
        """The document's node graph, refused before construction if aliases blow it up."""
        node: yaml.Node = super().compose_document()
        _check_expansion(node)
        return node


def strict_safe_load(text: str) -> Any:
    """``yaml.safe_load`` with duplicate keys and alias bombs refused (``yaml.YAMLError``)."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_text(path: Path) -> str:
    try:  # a named pipe or a device (base: /dev/zero) is refused before it is read
        return read_bounded(path, MAX_FILE_BYTES, "experiment file", SpecError).decode("utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such experiment file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None


def _parse_yaml(path: Path, text: str) -> Any:
    try:
        return strict_safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        kind = "" if isinstance(exc, _Refused) else "malformed YAML: "
        raise SpecError(f"{path}:{where} {kind}{problem}") from None
    except RecursionError:
        raise SpecError(f"{path}: YAML nested too deeply; experiment values need a few levels, not hundreds") from None


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in chain:
        raise SpecError(f"{path}: 'base' files include each other in a loop")
    data = _parse_yaml(path, _read_text(path))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is not None:
        if not isinstance(base, str):
            raise SpecError(f"{path}: base: must be a file path, got {base!r}")
        data = _deep_merge(_read_yaml(_resolve(path.parent / base), chain + (path,)), data)
    _inline_recipes(path, data)
    return data


def _inline_recipes(path: Path, data: dict[str, Any]) -> None:
    """``recipe: some.json`` on a variant: the JSON file (beside the experiment file) read in its place, so the
    plan and the variant id carry the recipe's content, not its path."""
    variants = data.get("variants")
    if not isinstance(variants, list):
        return
    for i, v in enumerate(variants):
        if not isinstance(v, dict) or not isinstance(v.get("recipe"), str):
            continue
        file = path.parent / v["recipe"]
        try:
            text = read_bounded(file, MAX_FILE_BYTES, "recipe file", SpecError).decode("utf-8")
            v["recipe"] = json.loads(text)
        except FileNotFoundError:
            raise SpecError(f"{path}: variants.{i}.recipe: no such file {file}") from None
        except OSError as exc:
            raise SpecError(f"{path}: variants.{i}.recipe: cannot read {file} ({exc.strerror})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SpecError(f"{path}: variants.{i}.recipe: {file} is not JSON ({exc}); give the LiteRT "
                            "Quantizer recipe `workbench search --precision` wrote") from None


def parse_experiment(data: dict[str, Any], source: str = "<experiment>") -> ExperimentSpec:
    """Validate a mapping into an ExperimentSpec, raising SpecError with a one-line message."""
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(source, exc)) from None
    try:
        spec.resolved_variants()  # matrix errors surface now, not mid-sweep
        spec.search_candidates()
    except ValueError as exc:
        raise SpecError(f"{source}: {exc}") from None
    if not spec.variants and not spec.matrix and spec.search is None:  # the float reference alone is no experiment
        raise SpecError(f"{source}: variants: the experiment defines no variants (add 'variants' or 'matrix')")
    return spec


def _resolve(path: Path) -> Path:
    """The absolute path; a symlink loop is a SpecError (``Path.resolve`` raises RuntimeError for it)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as exc:
        raise SpecError(f"{path}: cannot resolve the path ({exc}); point to a real experiment file") from None


def usable_cpus() -> list[int]:
    """The CPUs this process may run on (a container or ``taskset`` may allow fewer than ``os.cpu_count``)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return list(range(os.cpu_count() or 1))


def target_machine(where: str, target: TargetSpec, local_cpus: list[int], root: Path | None = None
                   ) -> tuple[list[int] | None, str]:
    """(the CPUs ``target`` runs on, how a message names that machine). A local target runs on ``local_cpus``
    (this machine's, named ''). A remote one (``host``) on CPUs 0..``cpus``-1 when the experiment declares
    ``cpus``, else on those the device's last profile from the project at ``root`` (default:
    ``workbench.paths.project_root``) recorded (``workbench.devices``), else on CPUs nobody here knows: None."""
    if not target.host:
        return local_cpus, ""
    if target.cpus is not None:
        return list(range(target.cpus)), f"{target.host} (declared by {where}.cpus: {target.cpus})"
    from workbench.devices import known_device
    from workbench.paths import project_root

    known = known_device(target.host, target.ssh_port, root or project_root())
    if known is None:
        return None, ""
    return list(known.cpus), f"{target.host} (as its profile of {known.seen or 'earlier'} found it)"


def check_machine(spec: ExperimentSpec, source: str, cpus: list[int] | None = None,
                  root: Path | None = None) -> list[str]:
    """SpecError (one line) when a target asks for more than its machine has: threads, CPU pins, load clients
    (``workbench.spec.domains.machine_problem``): a local target against this machine's ``cpus`` (default: the
    usable ones), a remote one against its declared or recorded CPUs (``target_machine``). Returns a note for
    each remote device whose CPUs are unknown, so a caller can say what was not checked."""
    cpus = usable_cpus() if cpus is None else cpus
    targets = [("target", spec.target), *((f"profiles.{i}", t) for i, t in enumerate(spec.profile_targets().values()))]
    notes: dict[str, str] = {}  # one per device
    for where, target in targets:
        on, machine = target_machine(where, target, cpus, root)
        if on is None:
            notes.setdefault(f"{target.host}:{target.ssh_port}", (
                f"{where}: remote CPUs unknown, not checked: threads, cpu_pin and clients on {target.host} (declare "
                f"{where}.cpus: N, or profile the device once from this project)"))
            continue
        problem = machine_problem(where, target, on, machine)
        if problem:
            raise SpecError(f"{source}: {problem}")
    return list(notes.values())


def load_experiment(path: str | Path, machine: bool = True) -> ExperimentSpec:
    """Read, merge (``base:``) and validate an experiment YAML file; with ``machine``, also against this
    machine's CPUs (``check_machine``: off where only the name is wanted, e.g. ``report``)."""
    p = Path(path)
    spec = parse_experiment(_read_yaml(_resolve(p)), source=str(path))
    if machine:
        check_machine(spec, str(path))
    return spec
