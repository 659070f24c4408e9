"""The study web service (``invariance study serve``): per-rater assignments, every answer in a database.

- :mod:`~core.study.server.db`: the versioned schema (SQLAlchemy 2 Core, SQLite or PostgreSQL) and the store
  whose writes go through one writer thread;
- :mod:`~core.study.server.assign`: creating a study, assigning raters, taking answers, live exclusion;
- :mod:`~core.study.server.status`: the dashboard's figures (also ``invariance study status --db``);
- :mod:`~core.study.server.app`: the Starlette app (rater pages and API, images, dashboard);
- :mod:`~core.study.server.run`: preparing a study from collections and serving it with uvicorn;
- :mod:`~core.study.server.ingest_db`: the answers of a study database into its collections;
- :mod:`~core.study.server.bench`: the load benchmark (``invariance bench study-server``).
"""
