"""Small database helpers every app may use; no app's models, no project settings.

- ``dbkit.prepared``: the one way into hand-written SQL (PostgreSQL's prepared
  statements, each joined to its ORM twin by ``by_backend``).
- ``dbkit.urls``: a path converter for row ids (a number the database can hold).
- ``dbkit.local_secrets``: secrets generated once into files, for a laptop set-up.
"""
