"""Static trust rules over the project's code (``mer/`` and ``flows/``), checked with :mod:`ast`.

Nothing the pipeline reads may run code: checkpoints load with ``torch.load(weights_only=True)``,
YAML with the safe loader only, no pickle, dill or marshal, no shell and no ``eval``/``exec``.
Imports are followed through aliases (``from torch import load as tl``); each rule is one test
case and every failure names the file and line. The self-tests plant a bad snippet per detector,
so a rule cannot pass by detecting nothing.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mer", "flows")

Finding = tuple[int, str]  # (line, what is wrong)

#: PyYAML names that build arbitrary Python objects (or choose a loader that does).
UNSAFE_YAML = frozenset({f"yaml.{name}" for name in (
    "load", "load_all", "full_load", "full_load_all", "unsafe_load", "unsafe_load_all",
    "Loader", "FullLoader", "UnsafeLoader", "CLoader", "CFullLoader", "CUnsafeLoader")})
PICKLE_MODULES = frozenset({"pickle", "_pickle", "cPickle", "dill"})
MARSHAL_LOADS = frozenset({"marshal.load", "marshal.loads"})
SHELL_CALLS = frozenset({"os.system", "os.popen"})
EVAL_EXEC = frozenset({"eval", "exec", "builtins.eval", "builtins.exec"})


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Map each name an import binds in a module to the dotted name it stands for."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.name if alias.asname else alias.name.partition(".")[0]
                names[alias.asname or bound] = bound
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """The dotted name a ``Name`` or ``Attribute`` chain refers to, imports resolved."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def _references(tree: ast.AST) -> Iterator[tuple[ast.expr, str]]:
    """Every name or attribute read in a module, with its resolved dotted name."""
    aliases = _aliases(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
            name = _dotted(node, aliases)
            if name:
                yield node, name


def _calls(tree: ast.AST) -> Iterator[tuple[ast.Call, str]]:
    """Every call in a module whose callee is a (resolved) dotted name."""
    aliases = _aliases(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (name := _dotted(node.func, aliases)):
            yield node, name


def _keyword_is(call: ast.Call, keyword: str, value: object) -> bool:
    """Whether ``call`` passes ``keyword=value`` with ``value`` written as a literal."""
    return any(k.arg == keyword and isinstance(k.value, ast.Constant) and k.value.value is value
               for k in call.keywords)


def torch_load_weights_only(tree: ast.AST) -> list[Finding]:
    """``torch.load`` unpickles arbitrary objects unless ``weights_only=True`` (literal)."""
    return [(call.lineno, "torch.load without the literal keyword weights_only=True")
            for call, name in _calls(tree)
            if name == "torch.load" and not _keyword_is(call, "weights_only", True)]


def yaml_safe_only(tree: ast.AST) -> list[Finding]:
    """YAML is read with ``yaml.safe_load`` only: no unsafe, full or default loader."""
    return [(node.lineno, f"{name} can build arbitrary objects; use yaml.safe_load")
            for node, name in _references(tree) if name in UNSAFE_YAML]


def no_pickle(tree: ast.AST) -> list[Finding]:
    """No pickle, dill or marshal loading: each runs code from the bytes it reads."""
    found = [(node.lineno, f"{name} loads code objects") for node, name in _references(tree)
             if name in MARSHAL_LOADS]
    for node in ast.walk(tree):
        modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                   [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        found += [(node.lineno, f"imports {module}, which runs code while unpickling")
                  for module in modules if module.partition(".")[0] in PICKLE_MODULES]
    return found


def no_shell(tree: ast.AST) -> list[Finding]:
    """No command line goes through a shell: no ``shell=`` other than False, os.system, popen."""
    found = [(call.lineno, f"{name} with shell= other than the literal False")
             for call, name in _calls(tree) if name.startswith("subprocess.")
             and any(k.arg == "shell" for k in call.keywords)
             and not _keyword_is(call, "shell", False)]
    return found + [(node.lineno, f"{name} runs its argument through a shell")
                    for node, name in _references(tree) if name in SHELL_CALLS]


def no_eval_exec(tree: ast.AST) -> list[Finding]:
    """No ``eval``/``exec`` builtins (a method such as ``model.eval()`` is not one)."""
    return [(node.lineno, f"{name} runs a string as code") for node, name in _references(tree)
            if name in EVAL_EXEC]


RULES: dict[str, Callable[[ast.AST], list[Finding]]] = {rule.__name__: rule for rule in (
    torch_load_weights_only, yaml_safe_only, no_pickle, no_shell, no_eval_exec)}


def _sources() -> list[Path]:
    """Every .py file under the checked packages, sorted."""
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_checked_packages_are_found() -> None:
    relative = {path.relative_to(ROOT).as_posix() for path in _sources()}
    assert {"mer/data/frames.py", "mer/stages/predict.py", "flows/train.py"} <= relative


@pytest.mark.parametrize("rule", sorted(RULES))
def test_project_code_follows(rule: str) -> None:
    findings = [f"{path.relative_to(ROOT)}:{line}: {message}"
                for path in _sources() for line, message in RULES[rule](_tree(path))]
    assert not findings, f"{rule} broken:\n" + "\n".join(findings)


#: (rule, snippet whose line 2 breaks it).
PLANTED = [
    ("torch_load_weights_only", "import torch\nstate = torch.load(path)\n"),
    ("torch_load_weights_only", "import torch\nstate = torch.load(path, weights_only=False)\n"),
    ("torch_load_weights_only", "from torch import load as tl\nstate = tl(path, weights_only=on)\n"),
    ("torch_load_weights_only", "import torch as t\nstate = t.load(path, **options)\n"),
    ("yaml_safe_only", "import yaml\nconfig = yaml.load(text)\n"),
    ("yaml_safe_only", "import yaml\nconfig = yaml.load(text, Loader=yaml.SafeLoader)\n"),
    ("yaml_safe_only", "import yaml\nconfig = yaml.unsafe_load(text)\n"),
    ("yaml_safe_only", "import yaml\nconfig = yaml.full_load(text)\n"),
    ("yaml_safe_only", "from yaml import Loader\nconfig = parse(text, Loader)\n"),
    ("yaml_safe_only", "import yaml\nconfig = parse(text, yaml.UnsafeLoader)\n"),
    ("no_pickle", "x = 1\nimport pickle\n"),
    ("no_pickle", "x = 1\nfrom pickle import loads\n"),
    ("no_pickle", "x = 1\nimport os, dill as d\n"),
    ("no_pickle", "import marshal\ncode = marshal.loads(data)\n"),
    ("no_shell", "import subprocess\nsubprocess.run(command, shell=True)\n"),
    ("no_shell", "from subprocess import Popen\nPopen(command, shell=use_shell)\n"),
    ("no_shell", "import os\nos.system(command)\n"),
    ("no_shell", "from os import popen\npopen(command)\n"),
    ("no_eval_exec", "x = 1\nvalue = eval(text)\n"),
    ("no_eval_exec", "x = 1\nexec(code)\n"),
    ("no_eval_exec", "import builtins\nbuiltins.exec(code)\n"),
]

ALLOWED = """\
import os, subprocess, torch, yaml
from yaml import safe_load
state = torch.load(path, map_location="cpu", weights_only=True)
config = yaml.safe_load(text) or safe_load(text)
text = yaml.safe_dump(config) + yaml.dump(config)
subprocess.run(["git", "status"], check=True, shell=False)
subprocess.run(["git", "status"], check=True)
model.eval()
self.model.eval()
folder = os.path.join("a", "b")
try:
    pass
except yaml.YAMLError:
    pass
"""


@pytest.mark.parametrize(("rule", "snippet"), PLANTED,
                         ids=[f"{rule}-{n}" for n, (rule, _) in enumerate(PLANTED)])
def test_each_rule_catches_a_planted_snippet(rule: str, snippet: str) -> None:
    assert [line for line, _ in RULES[rule](ast.parse(snippet))] == [2]


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_allows_the_safe_forms(rule: str) -> None:
    assert RULES[rule](ast.parse(ALLOWED)) == []
