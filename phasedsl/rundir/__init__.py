"""The run folder: ``results.json`` (the results document, schema ``SCHEMA``) and
``draws/point_NNN.npz`` (the draws of each sweep point).

Every write is atomic (a reader never sees half a file), ``results.json`` is rewritten after
every finished point, and a run of the same spec and settings into the same folder resumes:
the finished points it finds are kept (``RunFolder.open``). This package owns the document's
shape on disk; what goes into it comes from the pipeline as records. Its modules, by job,
each importing only those before it:

- ``errors``: ``RunFolderError`` and the refusals the others share;
- ``identity``: the run's and its points' keys and names (``run_key``, ``posterior_key``,
  ``point_index``, ``draws_identity``), no file touched;
- ``validation``: whether a results document or a draws file holds what readers take;
- ``files``: atomic writes, and the folder's files read back validated;
- ``lock``: one writer at a time (``RunLock``, ``locked``);
- ``folder``: ``RunFolder``, the results document of one run as it is written.
"""

from __future__ import annotations

from .errors import RunFolderError
from .files import (DISCOVERY, atomic_write, draws_path, dumps, load_discovery, load_draws,
                    load_results, save_discovery, save_draws)
from .folder import RunFolder, now_utc
from .identity import (ADDED_BASE, IDENTITY, added_index, data_identity, draws_identity,
                       point_id, point_index, posterior_identity, posterior_key, run_key)
from .lock import RunLock, locked
from .validation import (ENGINES, SCHEMA, draws_problem, field_problem, identity_problem,
                         validate)

__all__ = ["SCHEMA", "RunFolder", "RunFolderError", "RunLock", "validate", "atomic_write",
           "dumps", "load_results", "load_draws", "run_key", "posterior_identity",
           "posterior_key", "draws_path", "data_identity", "point_id", "added_index",
           "point_index", "ADDED_BASE", "save_draws", "draws_identity", "locked",
           "DISCOVERY", "save_discovery", "load_discovery", "IDENTITY", "ENGINES",
           "field_problem", "draws_problem", "identity_problem", "now_utc"]
