"""Steps plugged into nbgrader's pipelines by ``autograder/nbgrader_config.py``.

- :class:`RestoreCells` (sanitize): nbgrader's OverwriteCells, which puts back the master
  version of read-only cells; also restores deleted test cells wherever the neighbours went,
  and notes every restoration.
- :class:`ScoreByVerdict` (autograde, before SaveAutoGrades): a warning on stderr no longer
  costs points, and each test cell's score follows the grader's verdict.
- :class:`HideHiddenTests` (feedback): the student sees the check's message, not the hidden
  test code nor a traceback quoting it.
"""

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import (
    AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, ClearOutput, DeduplicateIds,
    GetGrades, IgnorePattern, LimitOutput, NbGraderPreprocessor, OverwriteCells,
    OverwriteKernelspec, SaveAutoGrades)
from traitlets import Unicode

from . import events
from .execute import SandboxedExecute


def _is_test_cell(cell):
    return utils.is_grade(cell) and cell.cell_type == "code" and not utils.is_solution(cell)


class RestoreCells(OverwriteCells):
    """OverwriteCells that records what it restores, and restores deleted test cells robustly."""

    def preprocess(self, nb, resources):
        self._student = resources["nbgrader"]["student"]
        return super().preprocess(nb, resources)

    def _emit(self, message):
        events.emit(self._student, self.assignment_id, self.notebook_id, message)

    def preprocess_cell(self, cell, resources, index):
        self._submitted_source = cell.source
        return super().preprocess_cell(cell, resources, index)

    def report_change(self, name, attr, old, new):
        super().report_change(name, attr, old, new)
        if attr == "checksum" and self._as_released(name) == self._submitted_source:
            return  # the student version lacks the hidden tests: not an edit
        what = {"checksum": "was edited", "locked": "was unlocked", "points": "had its points changed",
                "cell_type": "had its type changed"}.get(attr, f"had '{attr}' changed")
        self._emit(f"{name} {what}; restored from the master")

    def _as_released(self, grade_id):
        """The master source of a cell as the student version shows it (hidden tests removed)."""
        source = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id).source
        cell = NotebookNode(cell_type="code", source=source, metadata={})
        ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(cell)
        return cell.source

    def add_missing_grade_cells(self, nb, resources):
        """Put each missing graded cell back after the nearest earlier master cell still present."""
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        source_cells = source_nb.source_cells
        order = [c.name for c in source_cells]
        graded = {c.name: c for c in source_nb.grade_cells}
        solutions = {c.name for c in source_nb.solution_cells}
        for name in order:
            if name not in graded:
                continue
            present = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
            if name in present:
                continue
            position = 0
            for earlier in reversed(order[:order.index(name)]):
                if earlier in present:
                    position = present.index(earlier) + 1
                    break
            cell = self.missing_cell_transform(source_cells[order.index(name)], graded[name].max_score,
                                               is_solution=name in solutions)
            nb.cells.insert(position, cell)
            self._emit(f"{name} was missing; restored from the master")
        return nb, resources


class ScoreByVerdict(NbGraderPreprocessor):
    """Make nbgrader's scoring rule (error or stderr output = 0) follow the grader's verdict.

    In every test cell, stderr output becomes stdout (a warning is not a failure). Where the
    grader verified the cell, the cell fails if the grader's check failed, with the check's
    message as the error, whatever the kernel printed; and a returned value no longer reads as
    partial credit. Where it could not verify the cell, the kernel's result stands.
    """

    def preprocess(self, nb, resources):
        self._verdicts = resources.get("nnlab", {}).get("verdicts", {})
        self._who = (resources["nbgrader"]["student"], resources["nbgrader"]["assignment"],
                     resources["nbgrader"]["notebook"])
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if not _is_test_cell(cell):
            return cell, resources
        for output in cell.outputs:
            if output.output_type == "stream" and output.name == "stderr":
                output.name = "stdout"
        grade_id = cell.metadata.nbgrader["grade_id"]
        verdict = self._verdicts.get(grade_id)
        if not verdict:
            return cell, resources
        if not verdict["verified"]:
            if verdict.get("reason") != "no check_exercise call":
                events.emit(*self._who, f"{grade_id}: the kernel's result decides ({verdict['reason']})")
            return cell, resources
        for i, output in enumerate(cell.outputs):
            if output.output_type == "execute_result":
                cell.outputs[i] = NotebookNode(output_type="display_data", data=output.data,
                                               metadata=output.get("metadata", {}))
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if not verdict["passed"] and not errors:
            message = verdict["message"] or "the grader's check failed"
            cell.outputs.append(NotebookNode(output_type="error", ename="AssertionError", evalue=message,
                                             traceback=[f"AssertionError: {message}"]))
            events.emit(*self._who, f"{grade_id}: passed in the kernel but failed the grader's check",
                        kind="mismatch")
        return cell, resources


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback shows the message of a failed check, not hidden tests or tracebacks quoting them."""

    placeholder = Unicode("# (hidden tests: their result is shown below)").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if not _is_test_cell(cell):
            return cell, resources
        clearer = ClearHiddenTests(enforce_metadata=False)
        if clearer._remove_hidden_test_region(cell):
            cell.source = (cell.source.rstrip("\n") + "\n" + self.placeholder).lstrip("\n")
        for output in cell.outputs:
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


#: nbgrader's sanitize steps, with RestoreCells in place of OverwriteCells.
SANITIZE = [ClearOutput, DeduplicateIds, OverwriteKernelspec, RestoreCells, CheckCellMetadata]

#: nbgrader's autograde steps: sandboxed execution, and scoring by the grader's verdict.
AUTOGRADE = [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, ScoreByVerdict,
             SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]

#: nbgrader's feedback steps, with the hidden tests taken out.
FEEDBACK = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
