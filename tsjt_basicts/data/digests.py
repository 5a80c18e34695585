"""Known sizes and sha256 digests of the paper's data files, and a check of a user's copy.

Series: the ST-GFSL / TPB bundle (``<city>/dataset.npy``) and the DCRNN release (``*.h5``).
Graphs: the files of ``shared/datasets/graphs`` (its SHA256SUMS), from the same two releases.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tsjt_basicts.data.city import DataError

STGFSL_BUNDLE = "the ST-GFSL / TPB data bundle"
DCRNN_RELEASE = "the DCRNN data release"


@dataclass(frozen=True)
class KnownFile:
    """A published file: its path in its release, size in bytes, sha256, and array shape."""

    path: str
    size: int
    sha256: str
    origin: str
    shape: tuple[int, ...] | None = None


# fmt: off
PAPER_SERIES = {
    f.path: f
    for f in (
        KnownFile("metr-la/dataset.npy", 113_508_992,
                  "00406b77b1c062cb3688c29c3a8aa18ae387b2f7cd2c92716a54df4807d584f1", STGFSL_BUNDLE, (34272, 207, 2)),
        KnownFile("pems-bay/dataset.npy", 271_003_328,
                  "147d7dad50580d4918543371d0037b1e53ac93cf720b26423eaadbf20be24b94", STGFSL_BUNDLE, (52116, 325, 2)),
        KnownFile("chengdu_m/dataset.npy", 144_875_648,
                  "a7e3a917f86edb2ce7ecf49f1d1aff7f16f104addb924625bb06a84c865b0df4", STGFSL_BUNDLE, (17280, 524, 2)),
        KnownFile("shenzhen/dataset.npy", 173_353_088,
                  "367dc45d88f6eef4bd51c96cbba38efbe1293a02186db446be8fb91df93f4ea9", STGFSL_BUNDLE, (17280, 627, 2)),
        KnownFile("metr-la.h5", 57_038_056,
                  "64784b76d6fb8ec9bff4b6decafb354da2bb37840468fdccee5044e511277c05", DCRNN_RELEASE, (34272, 207)),
        KnownFile("pems-bay.h5", 135_930_936,
                  "65d69fb0a2323dba9867179eb7af47c8b814186bc459ff0a4937d21614153c8f", DCRNN_RELEASE, (52116, 325)),
    )
}

PAPER_GRAPHS = {
    f.path: f
    for f in (
        KnownFile("metr-la/matrix.npy", 171_524,
                  "e87344b0a792e1eb5ff884e892ffbfbdd642fbb66c56fd739fd271a55279f825", STGFSL_BUNDLE, (207, 207)),
        KnownFile("metr-la/adj_mx.pkl", 680_459,
                  "a35687c6e15aa228dc45027b0ed2a0ea0f4ec78f573deb992c595092d12f61b3", DCRNN_RELEASE),
        KnownFile("metr-la/graph_sensor_ids.txt", 1_448,
                  "3ba026caa2e6263ab0ea54b0fa1b125dbfa7216544cd05313b555e826292b990", DCRNN_RELEASE),
        KnownFile("metr-la/graph_sensor_locations.csv", 6_341,
                  "eb8ea96e07358b45d0e4ba3b89c2673fa20c54af50150249e627389e749ade6f", DCRNN_RELEASE),
        KnownFile("pems-bay/matrix.npy", 422_580,
                  "48c0db6121f4358ec9c5552e48cad7e95d1243766a8614b73fd86ce0aeef44ad", STGFSL_BUNDLE, (325, 325)),
        KnownFile("pems-bay/adj_mx_bay.pkl", 1_681_480,
                  "116275f5704d0d492018e14c047f7ae5004385b450aa907f88424055a4a97370", DCRNN_RELEASE),
        KnownFile("pems-bay/distances_bay_2017.csv", 175_771,
                  "e5feed06bfa1ba4c554a946d0e03d99f2018365eec5a8f28fd8504dea9d082b5", DCRNN_RELEASE),
        KnownFile("pems-bay/graph_sensor_locations_bay.csv", 9_750,
                  "276ee01059610774d4e59572507f7e32eaac21f1f5882fcd9e3d7d426a4b7a6c", DCRNN_RELEASE),
        KnownFile("chengdu_m/matrix.npy", 2_196_736,
                  "3ef5fd75b76a090f498b4eec6284486be8b2afdd524dcb02b2f65df9ab4ef716", STGFSL_BUNDLE, (524, 524)),
        KnownFile("shenzhen/matrix.npy", 3_145_160,
                  "3d8de0c48f30c1205b484f21527a44d6a34fd4883f487bfc8058986023968745", STGFSL_BUNDLE, (627, 627)),
    )
}
# fmt: on


def sha256_of(path: Path, chunk_bytes: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def npy_shape(path: Path) -> tuple[int, ...] | None:
    """Shape in a ``.npy`` header (None for other files or an unreadable header)."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            return read_header(handle)[0]
    except (ValueError, OSError, EOFError):
        return None


def verify_file(path: str | Path, expected: KnownFile) -> None:
    """Check ``path`` against a known file: size first (instant), then sha256; DataError on a difference."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{expected.path}: {path} not found; get it from {expected.origin}")
    refetch = f"fetch {expected.path} again from {expected.origin} (or pass --allow-digest-mismatch to use it anyway)"
    size = path.stat().st_size
    if size != expected.size:
        shape = npy_shape(path) if expected.shape and path.suffix == ".npy" else None
        shapes = f" (shape {shape}, expected {expected.shape})" if shape and shape != expected.shape else ""
        raise DataError(
            f"{expected.path}: {path} has {size:,} bytes, expected {expected.size:,}{shapes}: "
            f"the file is truncated or another release; {refetch}"
        )
    digest = sha256_of(path)
    if digest != expected.sha256:
        raise DataError(
            f"{expected.path}: {path} has sha256 {digest}, expected {expected.sha256}: same size, other "
            f"content (corrupted, or a re-processed release); {refetch}"
        )
