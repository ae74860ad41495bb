"""The run folder's files, written atomically and read back validated: ``results.json``
(``dumps``, ``load_results``), the draws of each point (``draws/point_NNN.npz``:
``save_draws``, ``load_draws``) and ``discovery.json``. A reader never sees half a file
(``atomic_write``), and never takes a swapped, foreign or damaged file for this run's."""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
from pathlib import Path

import numpy as np

from ..analysis.records import plain
from ..language.limits import MAX_NUMBERS_PER_POINT
from ..language.npyfile import NpyError, read_npz
from .errors import DAMAGED, RunFolderError, fs_error, no_link, refuse
from .identity import IDENTITY, posterior_key
from .validation import draws_problem, identity_problem, validate


def dumps(results: dict) -> str:
    """The results document as strict JSON text (non-finite floats as ``null``)."""
    return json.dumps(plain(results), indent=1, allow_nan=False)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees a half-written file: a temp
    file of a name no other writer uses (process id and random letters), then a rename.
    A failure (a full disk, a read-only folder) leaves the old file as it was and is a
    ``RunFolderError``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise fs_error("write", path, exc) from None


def _no_constant(name: str):
    raise ValueError(f"`{name}` is not a number JSON allows")


def load_results(folder: Path) -> dict | None:
    """The results document of ``folder`` (validated: ``validate``), or ``None`` where there
    is none yet. A damaged, foreign or newer document is a ``RunFolderError``."""
    path = Path(folder) / "results.json"
    no_link(path)
    try:
        if not path.is_file():
            if path.exists() or path.is_symlink():
                raise RunFolderError(f"{path} is not a file; {DAMAGED}")
            return None
        data = path.read_bytes()
    except OSError as exc:
        raise fs_error("read", path, exc) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(path, f"byte {exc.start} is not UTF-8") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise refuse(path, f"it is not JSON ({exc})") from None
    return validate(doc, path)


DISCOVERY = "discovery.json"  # the basins `phasedsl discover --into FOLDER` found


def save_discovery(folder: Path, doc: dict, checked) -> Path:
    """Write ``doc`` (``Discovery.to_json()``) into the run folder ``folder`` as
    ``discovery.json``, atomically, stamped with the spec's ``posterior_key`` so that a
    report shows it only beside a run of the same posterior. A link in its place is
    refused; the folder is made where missing."""
    folder = Path(folder)
    path = folder / DISCOVERY
    no_link(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fs_error("make", folder, exc) from None
    atomic_write(path, dumps({**doc, "posterior_key": posterior_key(checked)}).encode())
    return path


def load_discovery(folder: Path, results: dict) -> tuple[dict | None, str | None]:
    """``(doc, None)``: the run folder's ``discovery.json`` where it is of the run's
    posterior; ``(None, why)`` where it is there but cannot be shown (damaged, or of another
    posterior: the spec changed since); ``(None, None)`` where there is none."""
    path = Path(folder) / DISCOVERY
    if not path.is_file() or path.is_symlink():
        return None, None
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"{path} cannot be read ({type(exc).__name__}): not shown"
    if not isinstance(doc, dict) or not isinstance(doc.get("points"), list):
        return None, f"{path} is not a discovery document: not shown"
    key = str(results.get("posterior_key") or "").split(":")[0]
    if doc.get("posterior_key") != key:
        return None, (f"{path} was found for another posterior or sampler setting than this "
                      "run's: not shown; run `phasedsl discover SPEC --into FOLDER` with the "
                      "run's settings again")
    return doc, None


def draws_path(folder: Path, index: int, dataset: int = 0) -> Path:
    """Where the draws of sweep point ``index`` (its position in the sweep) are kept; those
    of data set ``dataset >= 1`` (``data { seeds = K }``) beside them, ``point_NNN.dK.npz``."""
    tail = f".d{dataset}" if dataset else ""
    return Path(folder) / "draws" / f"point_{index:03d}{tail}.npz"


def save_draws(folder: Path, index: int, draws, dataset: int = 0,
               identity: dict | None = None) -> None:
    """The draws of one sweep point (of one data set), compressed (``params f[G,S,D]``,
    ``indicators``, ...), with ``identity`` (``draws_identity``) so that no reader takes
    them for another point's."""
    sub = Path(folder) / "draws"
    try:
        sub.mkdir(exist_ok=True)
    except OSError as exc:
        raise fs_error("make", sub, exc) from None
    no_link(sub)
    arrays = {"params": draws.params, "indicators": draws.indicators,
              "logdensity": draws.logdensity}
    if draws.weights is not None:
        arrays["weights"] = draws.weights
    if draws.log_z is not None:  # SMC and quadrature: log Z per group (re-analysis, export)
        arrays["log_z"] = np.asarray(draws.log_z)
    if getattr(draws, "divergent", None) is not None:  # NUTS: bool[G, S] (export)
        arrays["diverging"] = np.asarray(draws.divergent, dtype=bool)
    if identity is not None:
        arrays[IDENTITY] = np.frombuffer(json.dumps(identity).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(draws_path(folder, index, dataset), buf.getvalue())


def load_draws(folder: Path, index: int, dataset: int = 0, results: dict | None = None,
               dim: int | None = None) -> dict[str, np.ndarray] | None:
    """The arrays saved for sweep point ``index`` (``params f[G,S,D]``, ``indicators
    bool[G,S,P]``, ``logdensity f[G,S]``, ``weights f[G,S]`` where weighted, ``diverging
    bool[G,S]`` for NUTS draws saved since it is kept), or ``None``.

    The file must name this point of this run (``draws_identity``, checked against
    ``results``, default the folder's ``results.json``) and hold arrays of consistent shapes
    and finite parameters (``dim`` of them per draw, where given); else a
    ``RunFolderError``: a swapped, foreign or damaged file is never read as this point's
    draws."""
    folder = Path(folder)
    path = draws_path(folder, index, dataset)
    no_link(path.parent)
    if not path.is_file():
        return None
    no_link(path)
    try:
        arrays = read_npz(path, MAX_NUMBERS_PER_POINT)
    except NpyError as exc:
        raise RunFolderError(f"{path} cannot be read ({exc}); {DAMAGED}") from None
    if results is None:
        results = _current_results(folder)
    why = draws_problem(arrays) or identity_problem(arrays, results, index, dataset)
    if not why and dim is not None and arrays["params"].shape[-1] != dim:
        why = f"holds draws of {arrays['params'].shape[-1]} parameters, not the spec's {dim}"
    if why:
        raise RunFolderError(f"{path} {why}; {DAMAGED}")
    arrays.pop(IDENTITY)
    return arrays


_CACHE: dict = {}  # folder -> (stat of its results.json, the validated document)


def _current_results(folder: Path) -> dict:
    """``load_results(folder)``, read again only when ``results.json`` was replaced (its
    inode, size or time changed): readers of many draws files parse it once."""
    path = folder / "results.json"
    try:
        st = path.stat()
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        stamp = None
    key = os.path.realpath(folder)
    if stamp is None or _CACHE.get(key, (None,))[0] != stamp:
        _CACHE.clear()  # one folder at a time is enough
        _CACHE[key] = (stamp, load_results(folder) or {})
    return _CACHE[key][1]
