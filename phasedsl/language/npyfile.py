"""NumPy ``.npy`` and ``.npz`` files read without trusting them: the header first, the size
it claims checked against a limit, and only then as many bytes as that shape needs.

``np.load`` allocates what a header claims (a 192-byte ``.npy`` can claim 10^12 rows) and
inflates an ``.npz`` member whole before anything can look at its shape (a 6 MB archive can
inflate to gigabytes). Here a claimed shape past ``limit`` numbers is refused before any
allocation, a member is read through its decompressor no further than its header's shape,
and every failure of the container (a damaged deflate stream, a truncated file, a header
that is not one) is an ``NpyError`` with a one-line reason.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
import zlib

import numpy as np

__all__ = ["NpyError", "read_npy", "read_npz", "npz_names"]

_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, struct.error,
           KeyError, NotImplementedError, RuntimeError, OverflowError, MemoryError,
           SyntaxError, TypeError)


class NpyError(Exception):
    """A NumPy file that cannot be read: damaged, not one, or past a size limit."""


def _reason(exc: BaseException) -> str:
    text = (str(exc).splitlines() or [""])[0][:200]
    if isinstance(exc, zlib.error):
        return f"a damaged compressed stream ({text})"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _header(fh) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh)
    if version in ((2, 0), (3, 0)):
        return np.lib.format.read_array_header_2_0(fh)
    raise ValueError(f"unknown .npy version {version}")


def _read(fh, limit: int) -> np.ndarray:
    shape, fortran, dtype = _header(fh)
    if dtype.hasobject:
        raise NpyError("it holds Python objects, not numbers")
    count = math.prod(shape)
    if count > limit:
        raise NpyError(f"its header claims {count:,} numbers (shape {list(shape)}), more "
                       f"than the {limit:,} allowed")
    nbytes = count * dtype.itemsize
    data = fh.read(nbytes)
    if len(data) != nbytes:
        raise NpyError(f"it is truncated: {len(data):,} of {nbytes:,} bytes of data")
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran else "C")


def read_npy(data: bytes, limit: int) -> np.ndarray:
    """The array of a ``.npy`` file's bytes, at most ``limit`` numbers."""
    try:
        return _read(io.BytesIO(data), limit)
    except NpyError:
        raise
    except _ERRORS as exc:
        raise NpyError(_reason(exc)) from None


def npz_names(archive: zipfile.ZipFile) -> list[str]:
    """The array names of an opened ``.npz`` (members ``NAME.npy``)."""
    return [n[:-4] for n in archive.namelist() if n.endswith(".npy")]


def read_npz(source, limit: int, names=None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (a path, or its bytes), at most ``limit`` numbers in all;
    ``names``: only these members (those present)."""
    try:
        fh = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
        with fh, zipfile.ZipFile(fh) as archive:
            out, left = {}, limit
            for name in npz_names(archive):
                if names is not None and name not in names:
                    continue
                with archive.open(name + ".npy") as member:
                    out[name] = _read(member, left)
                left -= out[name].size
            return out
    except NpyError:
        raise
    except _ERRORS as exc:
        raise NpyError(_reason(exc)) from None
