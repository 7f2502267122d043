# nbgrader configuration of the nnlab course (this folder is the course root).
#
# Used by the `nnlab` command and by plain `nbgrader ...` commands run inside this folder.
# The step folders (release/ submitted/ autograded/ feedback/), gradebook.db and .grading/
# are generated and git-ignored.

from nnlab.grading import preprocessors as nnlab_steps

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "nnlab"

# One source of truth: the source step reads the lesson masters in place,
# one assignment per lesson folder (notebooks/01_jacobians/01_jacobians.ipynb -> "01_jacobians").
c.CourseDirectory.source_directory = "../notebooks"

# Grading pipeline: nbgrader's own steps, with execution in a sandbox and the verdict
# computed by the grader (see nnlab/grading/preprocessors.py).
c.Autograde.sanitize_preprocessors = nnlab_steps.SANITIZE
c.Autograde.autograde_preprocessors = nnlab_steps.AUTOGRADE
c.GenerateFeedback.preprocessors = nnlab_steps.FEEDBACK
# Feedback pages carry no script: student HTML/Markdown is cleaned, the page stripped of active content.
c.GenerateFeedback.exporter_class = nnlab_steps.FeedbackHTMLExporter

# A deleted test cell is put back from the master and graded.
c.OverwriteCells.add_missing_cells = True

# Time limits: per cell (nbgrader's Execute.timeout), per notebook, per grader call.
c.Execute.timeout = 60
c.SandboxedExecute.notebook_timeout = 900
c.SandboxedExecute.probe_timeout = 20.0
c.SandboxedExecute.max_output_bytes = 2_000_000

# The kernel jail. Hardening is a change here, e.g.:
#   c.Sandbox.memory_mb = 1024
#   c.Sandbox.extra_ro_binds = ["/srv/datasets"]
# Without bubblewrap, grading refuses to run unless this is set (or `nnlab grade --unsandboxed`):
#   c.Sandbox.allow_unsandboxed = True
c.Sandbox.memory_mb = 3072
c.Sandbox.max_processes = 256
c.Sandbox.cpu_seconds = 900

# Isolation of one submission from the others (applied when the grader runs as root; a limit
# that cannot be applied on this host is noted for every notebook, see README "Isolation"):
# kernels run under a uid of their worker; each kernel gets `cpus` cores (cgroup quota),
# memory_mb and max_processes in total (cgroup) and a disk_mb working directory.
c.Sandbox.cpus = 1.0
c.Sandbox.disk_mb = 512
c.Sandbox.cgroup = "auto"         # "v2", "v1" or "off"; c.Sandbox.cgroup_root = a delegated cgroup
