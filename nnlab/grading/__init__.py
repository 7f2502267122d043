"""The ``nnlab`` command: release, grade (parallel, sandboxed), feedback and export over nbgrader.

Modules, in the order a submission meets them:

- ``course``: where the nbgrader course lives and how its config is loaded.
- ``intake``: unpack a folder or ``.zip`` of submissions, reject what cannot be graded.
- ``sandbox``: the bubblewrap jail in which a student's kernel runs.
- ``probe``: the pass/fail verdict, computed in the grader from values asked of the kernel.
- ``execute``: nbgrader's Execute step, run inside the sandbox.
- ``preprocessors``: scoring and feedback steps plugged into nbgrader's pipeline.
- ``parallel``: workers execute notebooks, the parent alone writes the gradebook.
- ``events`` / ``export``: why each submission got its grade, and the grade sheet.
- ``cli``: the ``nnlab`` console script.
"""
