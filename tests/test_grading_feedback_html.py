"""The feedback page runs nothing: student HTML, JavaScript, SVG, widgets and raw HTML in
Markdown or raw cells never become active content, while the check's message, the student's
plain output and images still show.

One lesson is graded end to end (`nnlab grade`, `nnlab feedback`) with a submission that tries
the usual script-injection vectors in outputs and cells; the feedback page is then parsed with
the standard library's HTML parser.
"""

import os
import re
from html.parser import HTMLParser

import nbformat
import pytest

from nnlab.grading import synthetic
from nnlab.grading.preprocessors import clean_markdown_html, strip_active_content

from grading_support import REPO, grade_class

ONE = "01_jacobians"

TEST_CONFIG = """
c.Execute.timeout = 30
c.SandboxedExecute.notebook_timeout = 300
"""

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(REPO, "notebooks", ONE, ONE + ".ipynb")),
                                reason="lesson master missing")

# Each payload would call alert(<n>) if it ran; n tells which one got through.
OUTPUT_CELLS = [
    # an HTML display with a script, an event handler and honest bold text
    'from IPython.display import HTML, SVG, Javascript, Markdown, display\n'
    'display(HTML("<script>alert(1)</script><b>bold-html</b><img src=x onerror=alert(2)>"))',
    # a JavaScript display
    'display(Javascript("alert(3)"))',
    # an SVG with an onload handler and a script inside
    "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(4)\">"
    "<script>alert(5)</script><circle r=\"3\"/></svg>'))",
    # a raw application/javascript output next to a plain-text one
    'display({"application/javascript": "alert(6)", "text/plain": "js-plain-marker"}, raw=True)',
    # text/html in an execute_result: frames, links, refresh, base, forms, CSS expressions, objects
    'class Rich:\n'
    '    def _repr_html_(self):\n'
    '        return ("<iframe srcdoc=\\"<script>alert(7)</script>\\"></iframe>"\n'
    '                "<a href=\\"javascript:alert(8)\\">js-link</a>"\n'
    '                "<meta http-equiv=\\"refresh\\" content=\\"0;url=javascript:alert(9)\\">"\n'
    '                "<base href=\\"javascript:alert(10)//\\">"\n'
    '                "<form action=\\"javascript:alert(11)\\"><button>go</button></form>"\n'
    '                "<div style=\\"width: expression(alert(12))\\">styled</div>"\n'
    '                "<object data=\\"javascript:alert(13)\\"></object><embed src=\\"javascript:alert(14)\\">"\n'
    '                "<svg><animate onbegin=\\"alert(15)\\"/></svg>")\n'
    '    def __repr__(self):\n'
    '        return "rich-plain-marker"\n'
    'Rich()',
    # Markdown output with a javascript: link and raw HTML
    'display(Markdown("[md-out](javascript:alert(16)) <img src=x onerror=alert(17)>"))',
    # a widget (its view and the notebook's widget state)
    'import ipywidgets\n'
    'display(ipywidgets.IntSlider(value=3, description="<img src=x onerror=alert(18)>"))',
    # honest output: printed text (with markup that must show as text) and a plot
    'print("plain-output-marker <script>alert(19)</script>")\n'
    'import matplotlib.pyplot as plt\n'
    'plt.figure(figsize=(1, 1)); plt.plot([0, 1], [1, 0]); plt.show()',
]

MARKDOWN_CELL = (
    "md-text-marker <script>alert(20)</script> <img src=x onerror=alert(21)>\n\n"
    "[md-js-link](javascript:alert(22)) [md-space-link]( javascript:alert(23)) ![md-img](javascript:alert(24))\n\n"
    "<svg onload=alert(25)></svg> <iframe srcdoc='<script>alert(26)</script>'></iframe>\n\n"
    "<style>body { background: url(javascript:alert(27)); width: expression(alert(28)) }</style>\n\n"
    "<meta http-equiv='refresh' content='0;url=javascript:alert(29)'>\n\n"
    "<a href='jav&#x09;ascript:alert(30)'>md-entity-link</a> <a href='data:text/html,<script>alert(31)</script>'>d</a>\n\n"
    "<details open ontoggle=alert(32)>x</details> <math><maction xlink:href='javascript:alert(33)'>m</maction></math>\n\n"
    "[md-good-link](https://example.org/ok)"
)

RAW_CELLS = [
    "<script>alert(34)</script><img src=x onerror=alert(35)> raw-text-marker",
    "<iframe src='javascript:alert(36)'></iframe>",
]


def build_class(course_root, folder):
    master = synthetic.read_notebook(os.path.join(course_root, "notebooks"), ONE)
    release = synthetic.read_notebook(os.path.join(course_root, "autograder", "release"), ONE)
    nb = synthetic.with_mistakes(master, release, {"test_dg_dx": "negated"})
    nb.cells += [nbformat.v4.new_code_cell(source) for source in OUTPUT_CELLS]
    nb.cells.append(nbformat.v4.new_markdown_cell(MARKDOWN_CELL))
    # A cell with markup shows as text as a whole; an ordinary one still renders, links included.
    nb.cells.append(nbformat.v4.new_markdown_cell("An ordinary cell: [md-honest-link](https://example.org/ok)"))
    nb.cells.append(nbformat.v4.new_raw_cell(RAW_CELLS[0]))
    html_raw = nbformat.v4.new_raw_cell(RAW_CELLS[1])
    html_raw.metadata["raw_mimetype"] = "text/html"
    nb.cells.append(html_raw)
    tagged = nbformat.v4.new_code_cell("print('tagged-cell-marker')")
    tagged.metadata["tags"] = ['"><script>alert(37)</script>']
    nb.cells.append(tagged)
    synthetic.write(folder, "xss", ONE, nb)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    graded = grade_class(str(tmp_path_factory.mktemp("course")), [ONE], TEST_CONFIG, build_class)
    assert graded["grade"].returncode == 0, graded["grade"].stderr
    return graded


@pytest.fixture(scope="module")
def page(graded):
    path = os.path.join(graded["course"], "feedback", "xss", ONE, ONE + ".html")
    with open(path, encoding="utf-8") as fh:
        return fh.read()


class Page(HTMLParser):
    """Every element with its attributes, the text, and the contents of style elements."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.elements, self.text, self.styles, self._in_style = [], [], [], False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, [(k, v or "") for k, v in attrs]))
        self._in_style = tag == "style"

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        (self.styles if self._in_style else self.text).append(data)


ACTIVE = {"script", "iframe", "frame", "object", "embed", "applet", "form", "base", "svg", "math",
          "link", "portal"}
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "background", "poster", "srcset"}


def executable_vectors(html):
    """What in a page could run script: elements, handlers, URLs, refreshes, CSS expressions."""
    parsed = Page(html)
    found = []
    for tag, attrs in parsed.elements:
        if tag in ACTIVE:
            found.append(f"<{tag}>")
        names = {k for k, _ in attrs}
        if tag == "meta" and "http-equiv" in names:
            found.append("<meta http-equiv>")
        for key, value in attrs:
            compact = re.sub(r"[\x00-\x20]+", "", value).lower()
            if key.startswith("on") or key == "srcdoc":
                found.append(f"{tag} {key}=")
            elif key in URL_ATTRS and compact.startswith(("javascript:", "vbscript:", "data:")):
                if not (tag == "img" and key == "src" and re.match(r"data:image/(png|jpeg);base64,", compact)):
                    found.append(f"{tag} {key}={value[:40]}")
            elif key == "style" and ("expression(" in compact or "javascript:" in compact):
                found.append(f"{tag} style={value[:40]}")
    for css in parsed.styles:
        compact = re.sub(r"\s+", "", css).lower()
        if "expression(" in compact or "javascript:" in compact:
            found.append("<style> with script")
    return found


def test_feedback_has_no_executable_vector(page):
    assert executable_vectors(page) == []


def test_the_formgrader_view_runs_nothing_the_student_wrote(graded):
    """The formgrader renders the autograded notebook with nbconvert's stock HTML exporter, in
    the instructor's Jupyter session: nothing active beyond what the exporter adds itself."""
    from collections import Counter

    from nbconvert import HTMLExporter
    autograded = nbformat.read(os.path.join(graded["course"], "autograded", "xss", ONE, ONE + ".ipynb"),
                               as_version=4)
    release = nbformat.read(os.path.join(graded["course"], "release", ONE, ONE + ".ipynb"), as_version=4)
    rendered, _ = HTMLExporter().from_notebook_node(autograded)
    baseline, _ = HTMLExporter().from_notebook_node(release)
    assert Counter(executable_vectors(rendered)) - Counter(executable_vectors(baseline)) == Counter()
    assert "md-text-marker" in rendered and "plain-output-marker" in rendered


def test_no_widget_or_mathjax_script(page):
    assert "<script" not in page.lower()
    assert "widget-state" not in page and "widget-view" not in page


def test_honest_parts_still_show(page):
    text = " ".join(Page(page).text)
    assert "known mistake: negated" in text, text[text.find("dg_dx"):][:3000]  # the check's message
    assert "plain-output-marker <script>alert(19)</script>" in text  # printed text, shown as text
    assert "md-text-marker" in text and "md-good-link" in text
    assert "rich-plain-marker" in text and "js-plain-marker" in text and "tagged-cell-marker" in text
    assert "raw-text-marker" in text                              # a raw cell shows as text
    pngs = [dict(a) for t, a in Page(page).elements if t == "img"
            and dict(a).get("src", "").startswith("data:image/png;base64,")]
    assert pngs, "the plot is missing"
    links = [dict(a).get("href") for t, a in Page(page).elements if t == "a"]
    assert "https://example.org/ok" in links


def test_dropped_outputs_are_named(page):
    text = " ".join(Page(page).text)
    assert "application/javascript output: not shown in the feedback" in text


# --- the two cleaning functions on their own -------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    "<a href=' JaVa&#x0A;Script:alert(1)'>x</a>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<div style='width: expression(alert(1))'>x</div>",
    "<meta http-equiv='refresh' content='0;url=javascript:alert(1)'>",
    "<base href='javascript:alert(1)//'>",
    "<form action='javascript:alert(1)'><input type=submit></form>",
    "<object data='javascript:alert(1)'></object>",
    "<embed src='data:text/html,<script>alert(1)</script>'>",
    "<math><maction xlink:href='javascript:alert(1)'>x</maction></math>",
    "<!--><script>alert(1)</script>-->",
    "<details open ontoggle=alert(1)>",
    "<a href='data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=='>x</a>",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_cleaning_leaves_nothing_active(payload):
    assert executable_vectors(clean_markdown_html(f"<p>{payload}</p>")) == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_page_pass_leaves_nothing_active(payload):
    page = f"<!DOCTYPE html><html><head><style>p {{ color: red }}</style></head><body>{payload}</body></html>"
    cleaned = strip_active_content(page)
    assert executable_vectors(cleaned) == []
    assert "color: red" in cleaned  # the page's own style stays


def test_images_keep_their_data():
    png = "<img src='data:image/png;base64,iVBORw0KGgo=' alt='plot'>"
    assert "data:image/png;base64,iVBORw0KGgo=" in clean_markdown_html(png)
    assert "data:image/png;base64,iVBORw0KGgo=" in strip_active_content(png)
