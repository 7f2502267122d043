"""The student edition of nnlab: the package without the answer key.

Students' kernels, in their own JupyterLab on the course hub and in the grading sandbox, import
this edition instead of the full package. It is the same package with three differences:

- ``nnlab.exercises`` (the instructor's catalogue: how cases are drawn, the known mistakes) and
  ``nnlab.grading``/``nnlab.hub`` (the instructor's tools) are left out (importing them raises
  ImportError);
- every reference answer of a graded exercise (``nnlab.exercises.withheld_references()``) keeps
  its name and signature, but its body is replaced by ``raise ReferenceWithheld(...)``, so a
  submission that imports, calls or copies it (by ``import``, ``getattr``, ``importlib`` or by
  reading the package's files) gets no answer from it, and the check says why;
- ``nnlab/_visible_cases.pkl`` holds the cases of the visible checks (the ``check_exercise``
  calls written in the lessons' test cells, hidden tests excluded): inputs, expected answers
  and the known-wrong answers the messages name, so that a student's check still names the
  mistake without any reference code.

``python -m nnlab.grading.edition DEST [NOTEBOOKS]`` writes the edition to ``DEST/nnlab``.
"""

import ast
import hashlib
import io
import os
import pickle
import shutil
import sys
import tempfile
import tokenize

import nbformat
from nbgrader import utils

LEFT_OUT = ("exercises", "grading", "hub")


def package_dir():
    import nnlab
    return os.path.dirname(os.path.realpath(nnlab.__file__))


def default_notebooks():
    return os.path.join(os.path.dirname(package_dir()), "notebooks")


# --- the visible checks ----------------------------------------------------------------------

def _visible_source(cell):
    """A test cell's source without its hidden tests."""
    lines, hidden = [], False
    for line in cell.source.splitlines():
        if "### BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "### END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


def visible_checks(notebooks_dir):
    """{(exercise id, seed, cases)} of every check_exercise call in the masters' visible tests."""
    from .probe import Unverifiable, _check_params, find_checks

    found = set()
    for dirpath, dirnames, filenames in os.walk(notebooks_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith(".ipynb"):
                continue
            nb = nbformat.read(os.path.join(dirpath, name), as_version=4)
            for cell in nb.cells:
                if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
                    continue
                try:
                    for check in find_checks(_visible_source(cell)):
                        found.add((check.exercise_id, *_check_params(check)))
                except Unverifiable:
                    continue
    return found


def visible_cases(notebooks_dir):
    """{(exercise id, seed, cases): Cases} for the visible checks."""
    from nnlab import exercises

    return {key: exercises.build_cases(*key) for key in sorted(visible_checks(notebooks_dir))
            if key[0] in exercises.EXERCISES}


# --- withholding the references --------------------------------------------------------------

def _header_end(lines, func):
    """0-based index of the line holding the ':' that ends ``func``'s header."""
    start = func.lineno - 1
    text = "".join(lines[start:func.body[0].lineno])
    depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.OP:
            if tok.string in "([{":
                depth += 1
            elif tok.string in ")]}":
                depth -= 1
            elif tok.string == ":" and depth == 0:
                return start + tok.start[0] - 1
    raise ValueError(f"cannot find the end of {func.name}'s header")


def withhold(source, names, module):
    """``source`` with the bodies of the top-level functions ``names`` replaced by a raise."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    missing = set(names) - {f.name for f in funcs}
    if missing:
        raise ValueError(f"{module} has no top-level function {', '.join(sorted(missing))}")
    for func in sorted(funcs, key=lambda f: f.lineno, reverse=True):
        header = _header_end(lines, func)
        head = lines[header]
        colon = head.rfind(":", 0, len(head.split("#")[0].rstrip()) + 1)
        indent = " " * (func.col_offset + 4)
        stub = (f"{head[:colon + 1]}\n"
                f'{indent}"""Withheld: the course\'s answer to a graded exercise."""\n'
                f"{indent}from nnlab.feedback import ReferenceWithheld\n\n"
                f"{indent}raise ReferenceWithheld({module + '.' + func.name!r})\n")
        lines[header:func.end_lineno] = [stub]
    text = "".join(lines)
    # The module's own docstring states the reference forms: keep its first line only.
    tree = ast.parse(text)
    doc = ast.get_docstring(tree, clean=False)
    if doc is not None:
        node = tree.body[0]
        lines = text.splitlines(keepends=True)
        first = doc.strip().splitlines()[0].replace('"""', "")
        lines[node.lineno - 1:node.end_lineno] = [
            f'"""{first}\n\nThe reference answers of the graded exercises are withheld in this '
            f'copy of the course."""\n']
        text = "".join(lines)
    return text


# --- building ----------------------------------------------------------------------------------

def build(dest, notebooks_dir=None):
    """Write the student edition to ``dest/nnlab``; returns that path."""
    from nnlab import exercises

    src = package_dir()
    target = os.path.join(dest, "nnlab")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(src, target, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", ".ipynb_checkpoints", "_visible_cases.pkl"))
    for name in LEFT_OUT:
        # A package that only says it is not here: an editable install elsewhere on the path
        # must not fill the gap with the instructor's copy.
        shutil.rmtree(os.path.join(target, name), ignore_errors=True)
        os.mkdir(os.path.join(target, name))
        with open(os.path.join(target, name, "__init__.py"), "w", encoding="utf-8") as fh:
            fh.write(f'"""Not part of the student copy of the course."""\n\n'
                     f'raise ImportError("nnlab.{name} is not part of the student copy of the course")\n')
    for module, names in exercises.withheld_references().items():
        path = os.path.join(target, *module.split(".")[1:]) + ".py"
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(withhold(source, names, module))
    from nnlab.feedback import VISIBLE_CASES_FILE
    with open(os.path.join(target, VISIBLE_CASES_FILE), "wb") as fh:
        pickle.dump(visible_cases(notebooks_dir or default_notebooks()), fh, protocol=4)
    for dirpath, dirnames, filenames in os.walk(dest):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    return target


def fingerprint(notebooks_dir):
    """Changes whenever the package or the masters' test cells change."""
    digest = hashlib.sha256()
    for root in (package_dir(), notebooks_dir):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", ".ipynb_checkpoints"))
            for name in sorted(filenames):
                if name.endswith((".py", ".ipynb")):
                    path = os.path.join(dirpath, name)
                    digest.update(os.path.relpath(path, root).encode())
                    with open(path, "rb") as fh:
                        digest.update(fh.read())
    return digest.hexdigest()[:16]


def cached(state_dir, notebooks_dir):
    """The edition for the current package and masters, built once into ``state_dir/edition``."""
    base = os.path.join(state_dir, "edition")
    target = os.path.join(base, fingerprint(notebooks_dir))
    if not os.path.isdir(os.path.join(target, "nnlab")):
        os.makedirs(base, exist_ok=True)
        staging = tempfile.mkdtemp(dir=base)
        build(staging, notebooks_dir)
        try:
            os.rename(staging, target)
        except OSError:  # another grader built it first
            shutil.rmtree(staging, ignore_errors=True)
        os.chmod(base, 0o755)
    return os.path.join(target, "nnlab")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not 1 <= len(argv) <= 2:
        print("usage: python -m nnlab.grading.edition DEST [NOTEBOOKS]", file=sys.stderr)
        return 2
    print(build(*argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
