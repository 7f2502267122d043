"""Solutions that are the course's reference, pasted in from elsewhere.

The student edition of the course has no reference code, but a student may find it anyway (a
friend's copy of the full package, the course's public repository). A solution cell is flagged
for the instructor's review when one of its functions is a reference function up to
formatting: the same code once comments, docstrings, annotations, the text of strings and the
names of the function, its arguments and its local variables are set aside. A flag is a note in the grade sheet, not
a score: people who derive the same formula may write the same three lines.
"""

import ast
import builtins
import inspect
import textwrap
from functools import lru_cache

from nbgrader import utils


class _Normalize(ast.NodeTransformer):
    """Renames a function's own names (arguments, locals) by order of appearance; drops
    docstrings, annotations and the text of strings; leaves globals (np, modules, builtins)
    and attributes alone."""

    def __init__(self, local_names):
        self.names = {}
        self.local_names = local_names

    def _rename(self, name):
        if name not in self.local_names:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_FunctionDef(self, node):
        node.name = "f"
        node.returns = None
        node.decorator_list = []
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:] or [ast.Pass()]
        node.body = body
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_arg(self, node):
        node.arg = self._rename(node.arg)
        node.annotation = None
        return node

    def visit_Name(self, node):
        node.id = self._rename(node.id)
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, str):  # messages reworded are still the same code
            node.value = ""
        return node


def _local_names(func):
    names = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
    for node in ast.walk(func):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
    return names - set(dir(builtins))


def normalized(func):
    """A string equal for two function definitions that differ only in formatting and names."""
    func = ast.parse(ast.unparse(func)).body[0]  # a private copy
    func = _Normalize(_local_names(func)).visit(func)
    return ast.dump(func, annotate_fields=False, include_attributes=False)


def _functions(source):
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # IPython syntax (magics, shell escapes) is not Python: leave those lines out.
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            return []
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


@lru_cache(maxsize=1)
def reference_forms():
    """{normalized reference function: (its dotted name, [exercise ids it answers])}."""
    from nnlab import exercises
    from nnlab.exercises import Ref

    forms = {}
    for ex in exercises.EXERCISES.values():
        if not isinstance(ex.load_reference, Ref):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(ex.load_reference()))
        except (OSError, TypeError):
            continue
        for func in _functions(source)[:1]:
            name, ids = forms.setdefault(normalized(func), (ex.load_reference.path, []))
            ids.append(ex.id)
    return forms


def copies_of_references(nb):
    """{exercise id: reference name} for every solution cell function that is a reference."""
    forms = reference_forms()
    found = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or not utils.is_solution(cell):
            continue
        for func in _functions(cell.source):
            match = forms.get(normalized(func))
            if match:
                name, ids = match
                for exercise_id in ids:
                    found[exercise_id] = name
    return found
