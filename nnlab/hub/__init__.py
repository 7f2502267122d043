"""The course on a JupyterHub: roster, accounts, the nbgrader exchange and the hub itself.

``nnlab hub`` (``make hub``) starts a course hub on one machine:

- :mod:`nnlab.hub.roster` reads the class list (``student_id, name``) and the instructors;
- :mod:`nnlab.hub.accounts` makes one system account per person (home directory 0700) with
  its own password, so that JupyterHub's default PAM login and ``LocalProcessSpawner`` keep
  each student's files to themselves;
- :mod:`nnlab.hub.layout` prepares the nbgrader exchange, the instructor's course directory
  and the single-user environment (where the student edition of nnlab is plugged in);
- :mod:`nnlab.hub.config` turns all of that into JupyterHub configuration;
- :mod:`nnlab.hub.run` starts the proxy and the hub as two processes, so that a hub restart
  leaves the proxy, the students' servers and their work running.
"""
