"""Steps plugged into nbgrader's pipelines by ``autograder/nbgrader_config.py``.

- :class:`RestoreCells` (sanitize): nbgrader's OverwriteCells, which puts back the master
  version of read-only cells; also restores deleted test cells wherever the neighbours went,
  and notes every restoration.
- :class:`RemoveHiddenTests` (sanitize, last): the test cells lose their hidden tests before
  anything runs, so hidden test code and seeds never reach the student's kernel, the
  autograded notebook or the feedback; the grader replays them from the master.
- :class:`ScoreByVerdict` (autograde, before SaveAutoGrades): a warning on stderr no longer
  costs points, and each test cell's score follows the grader's verdict.
- :class:`HideHiddenTests` (feedback): the student sees the check's message, not the hidden
  test code nor a traceback quoting it.
- :class:`SanitizeFeedback` (feedback) and :class:`FeedbackHTMLExporter` (``GenerateFeedback``'s
  exporter): the feedback page holds no script and no active HTML; outputs show as plain
  text and images.
"""

import re

import bleach
from bs4 import BeautifulSoup, CData, Comment, Declaration, Doctype, ProcessingInstruction
from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
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


#: What stands in a test cell where its hidden tests were.
HIDDEN_PLACEHOLDER = "# (hidden tests: the grader runs them; their result is shown below)"


def strip_hidden_tests(source, placeholder=HIDDEN_PLACEHOLDER, begin="BEGIN HIDDEN TESTS",
                       end="END HIDDEN TESTS"):
    """(source without its hidden-test regions, whether one was removed).

    Each region, delimiters included, becomes one ``placeholder`` line. A region left open
    runs to the end of the cell (nothing of it is kept).
    """
    kept, inside, removed = [], False, False
    for line in source.split("\n"):
        if begin in line:
            if not inside and placeholder:
                kept.append(line[:len(line) - len(line.lstrip())] + placeholder)
            inside = removed = True
        elif end in line and inside:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept), removed


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


class RemoveHiddenTests(NbGraderPreprocessor):
    """The test cells run without their hidden tests (last sanitize step).

    The kernel runs student code, which can read whatever ran in it (``In``, the history,
    the frames of its callers) and print it into the feedback. So the hidden region of each
    test cell is replaced by :data:`HIDDEN_PLACEHOLDER` before execution. Scoring does not
    change: the grader replays every ``check_exercise`` call of the master's full test cell,
    hidden ones included, in its own process (see :mod:`nnlab.grading.probe`). Parallel
    workers run this step too, so the notebook they execute is the one the parent records.
    """

    placeholder = Unicode(HIDDEN_PLACEHOLDER).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if _is_test_cell(cell):
            clearer = ClearHiddenTests(parent=self)
            cell.source, _ = strip_hidden_tests(cell.source, self.placeholder,
                                                clearer.begin_test_delimeter, clearer.end_test_delimeter)
        return cell, resources


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback shows the message of a failed check, not hidden tests or tracebacks quoting them.

    The autograded notebook has no hidden tests any more (:class:`RemoveHiddenTests`); this
    also covers notebooks autograded before that step existed.
    """

    placeholder = Unicode(HIDDEN_PLACEHOLDER).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if not _is_test_cell(cell):
            return cell, resources
        clearer = ClearHiddenTests(parent=self)
        cell.source, _ = strip_hidden_tests(cell.source, self.placeholder,
                                            clearer.begin_test_delimeter, clearer.end_test_delimeter)
        for output in cell.outputs:
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


# --- the feedback page holds no active content ---------------------------------------------------

#: Output types shown in the feedback: plain text and raster images. HTML, SVG, Markdown,
#: LaTeX, JavaScript and widget outputs come from student code and are left out.
SAFE_OUTPUT_TYPES = ("text/plain", "image/png", "image/jpeg")

_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
#: The text IPython shows for an object without a text form ("<IPython.core.display.HTML object>").
_DEFAULT_REPR = re.compile(r"(<[\w.]+ object( at 0x[0-9a-fA-F]+)?>)?")


class SanitizeFeedback(NbGraderPreprocessor):
    """Keep only what the feedback page can show inertly.

    - code outputs: streams and errors (shown as escaped text), and of rich outputs only
      plain text and PNG/JPEG images; anything else is left out, named in one line where the
      output has no plain-text form of its own; output metadata is cut to image sizes;
    - raw cells: shown as text (a code block), never as HTML;
    - cell metadata: nbgrader's only (no tags, no widget state); notebook widget state dropped.

    Markdown (student cells and graders' comments) is cleaned after rendering, in
    :class:`FeedbackHTMLExporter`, which also strips whatever active content is left.
    """

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        cell.metadata = NotebookNode({k: v for k, v in cell.metadata.items() if k == "nbgrader"})
        if cell.cell_type == "raw":
            text = str(cell.source)
            run = max((len(r) for r in re.findall(r"`+", text)), default=0)
            fence = "`" * max(3, run + 1)
            cell.cell_type = "markdown"
            cell.source = f"{fence}text\n{text}\n{fence}"
        elif cell.cell_type == "code":
            cell.outputs = [o for o in (_safe_output(o) for o in cell.get("outputs", [])) if o is not None]
        return cell, resources


_CODE = re.compile(r"(`{3,}|~{3,})[\s\S]*?(\1|\Z)|`+[^`]*`+")
_ACTIVE_MARKUP = re.compile(r"<\s*[a-zA-Z!/?]|(javascript|vbscript|data)\s*:", re.IGNORECASE)


class InertForInstructors(SanitizeFeedback):
    """The autograded notebook, which the formgrader renders in the instructor's own Jupyter
    session, keeps only inert output (as the feedback does), and a markdown cell with markup
    or script links outside its code spans is shown as plain text: the lessons' own markdown
    has none, so only what a student wrote is affected."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and _ACTIVE_MARKUP.search(_CODE.sub("", str(cell.source))):
            cell.cell_type = "raw"  # SanitizeFeedback shows a raw cell as a text block
        return super().preprocess_cell(cell, resources, index)


def _safe_output(output):
    """The output rebuilt from its inert parts only, or None when nothing of it can show."""
    kind = output.get("output_type")
    if kind == "stream":
        return NotebookNode(output_type="stream", name="stderr" if output.get("name") == "stderr" else "stdout",
                            text=_text(output.get("text", "")))
    if kind == "error":
        return NotebookNode(output_type="error", ename=_text(output.get("ename", "")),
                            evalue=_text(output.get("evalue", "")),
                            traceback=[_text(line) for line in output.get("traceback", [])])
    if kind not in ("display_data", "execute_result"):
        return None
    data, metadata, dropped = {}, {}, []
    for mime, value in (output.get("data") or {}).items():
        if mime == "text/plain":
            data[mime] = _text(value)
        elif mime in SAFE_OUTPUT_TYPES and isinstance(value, str) and _BASE64.fullmatch(value):
            data[mime] = value
            size = (output.get("metadata") or {}).get(mime)
            if isinstance(size, dict):
                kept = {k: size[k] for k in ("width", "height") if type(size.get(k)) is int}
                if kept:
                    metadata[mime] = kept
        else:
            dropped.append(mime)
    if dropped and _DEFAULT_REPR.fullmatch(data.get("text/plain", "").strip()):
        data["text/plain"] = f"[{', '.join(sorted(dropped))} output: not shown in the feedback]"
    if not data:
        return None
    safe = NotebookNode(output_type=kind, data=data, metadata=metadata)
    if kind == "execute_result":
        safe.execution_count = output.get("execution_count")
    return safe


def _text(value):
    return "".join(map(str, value)) if isinstance(value, list) else str(value)


#: What rendered Markdown may contain in the feedback (Markdown's own output, inert).
MARKDOWN_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong",
    "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"})

_SAFE_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp);base64,", re.IGNORECASE)


def _markdown_attribute(tag, name, value):
    if name in ("title", "class"):
        return True
    if name == "id":
        return tag in ("h1", "h2", "h3", "h4", "h5", "h6")
    if name == "href":
        return tag == "a" and not _compact(value).startswith("data:")
    if name in ("src", "alt", "width", "height"):
        if tag != "img":
            return False
        return name != "src" or not _compact(value).startswith("data:") or bool(_SAFE_DATA_IMAGE.match(value.strip()))
    if name == "align":
        return tag in ("td", "th")
    return False


_MARKDOWN_CLEANER = bleach.Cleaner(tags=MARKDOWN_TAGS, attributes=_markdown_attribute,
                                   protocols={"http", "https", "mailto", "data"}, strip=False,
                                   strip_comments=True)


def clean_markdown_html(html):
    """Rendered Markdown with everything but inert formatting, links and images escaped or removed."""
    return _MARKDOWN_CLEANER.clean(html)


def _compact(value):
    """A URL as a browser reads its scheme: no whitespace or control characters, lower case."""
    return re.sub(r"[\x00-\x20\x7f]+", "", str(value)).lower()


#: Elements that can run or load something, or send the page somewhere.
ACTIVE_ELEMENTS = frozenset({
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "base", "link",
    "portal", "svg", "math", "noscript", "template", "button", "input", "textarea", "select",
    "audio", "video", "source", "track"})
URL_ATTRIBUTES = frozenset({
    "href", "src", "action", "formaction", "xlink:href", "data", "background", "poster", "srcset",
    "lowsrc", "dynsrc", "cite", "longdesc", "usemap", "ping", "manifest", "codebase", "archive",
    "profile", "icon"})
_BAD_SCHEMES = ("javascript:", "vbscript:", "livescript:", "data:")
_BAD_CSS = ("expression(", "javascript:", "vbscript:", "behavior:", "-moz-binding")


def strip_active_content(html):
    """The whole page without scripts, event handlers, script URLs, frames, forms, refreshes.

    A last pass over the finished document, whatever put the content there (an output, a
    Markdown cell, a template). Images keep ``data:image/...`` sources.
    """
    soup = BeautifulSoup(html, "html.parser")
    for node in soup.find_all(string=lambda s: isinstance(s, (CData, Comment, Declaration, ProcessingInstruction))
                              and not isinstance(s, Doctype)):
        node.extract()
    for element in soup.find_all(True):
        if element.decomposed:
            continue
        name = element.name.lower()
        if name in ACTIVE_ELEMENTS or (name == "meta" and "http-equiv" in {a.lower() for a in element.attrs}):
            element.decompose()
            continue
        if name == "style" and any(bad in _compact(element.get_text()) for bad in _BAD_CSS):
            element.decompose()
            continue
        for attribute in list(element.attrs):
            key = attribute.lower()
            value = element.attrs[attribute]
            value = " ".join(value) if isinstance(value, list) else str(value)
            compact = _compact(value)
            if key.startswith("on") or key in ("srcdoc", "formaction", "http-equiv"):
                del element.attrs[attribute]
            elif key == "style" and any(bad in compact for bad in _BAD_CSS):
                del element.attrs[attribute]
            elif key in URL_ATTRIBUTES and compact.startswith(_BAD_SCHEMES):
                if not (name == "img" and key == "src" and _SAFE_DATA_IMAGE.match(value.strip())):
                    del element.attrs[attribute]
    return str(soup)


class FeedbackHTMLExporter(HTMLExporter):
    """nbconvert's HTML exporter for the feedback pages: Markdown is cleaned after rendering
    (raw HTML shown as text, only http(s)/mailto links and raster-image data), and the
    finished page goes through :func:`strip_active_content`. The page has no JavaScript at
    all, so math shows as its LaTeX source."""

    @pass_context
    def markdown2html(self, context, source):
        return clean_markdown_html(super().markdown2html(context, source))

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources, **kw)
        return strip_active_content(html), resources


#: nbgrader's sanitize steps, with RestoreCells in place of OverwriteCells, then the hidden
#: tests taken out of what will run.
SANITIZE = [ClearOutput, DeduplicateIds, OverwriteKernelspec, RestoreCells, CheckCellMetadata,
            RemoveHiddenTests]

#: nbgrader's autograde steps: sandboxed execution, and scoring by the grader's verdict.
AUTOGRADE = [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, ScoreByVerdict,
             InertForInstructors, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]

#: nbgrader's feedback steps, with the hidden tests taken out and only inert output kept.
FEEDBACK = [GetGrades, HideHiddenTests, SanitizeFeedback, CSSHTMLHeaderPreprocessor]
