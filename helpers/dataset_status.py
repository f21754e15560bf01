"""What of a dataset is in the cache: `status(name)`, from file sizes and stamps (only a torchvision weight file
without a stamp is hashed, once: `weights.weights_problem`).

`helpers.download` re-exports `status`; `python -m helpers datasets` prints it for every dataset.
"""

from __future__ import annotations

from ._stamps import _load_stamp, _stamp_is_fresh
from .extract import MARKER, recorded_sha256
from .registry import _blocked, dataset_dir, get_dataset, manual_instructions
from .weights import torchvision_weights_path, weights_problem


def status(name: str) -> dict:
    """What of a dataset is in the cache, from file sizes and stamps (a torchvision weight file without a stamp
    is hashed once, to check the sha256 prefix in its name).

    Returns {'title', 'kind', 'path', 'status', 'files': {file: state}, 'download', 'license', 'citation'} (and
    'manual' for a manual dataset); for torchvision weights {'title', 'kind', 'path', 'license', 'status'}, the
    status 'present', 'absent (...)' or 'damaged: <what to do>'.
    Raises UnknownDatasetError for a name that is not in the registry, RegistryError when the registry file
    cannot be used.
    """
    ds = get_dataset(name)
    if ds.torchvision:
        path = torchvision_weights_path(ds.name)
        problem = weights_problem(ds.name)
        return {
            "title": ds.title,
            "kind": ds.kind,
            "path": str(path),
            "license": ds.license,
            "status": "present" if not problem else problem if problem.startswith("absent") else f"damaged: {problem}",
        }
    folder = dataset_dir(ds.name, create=False)
    files = {}
    for res in ds.resources:
        target = folder / res.relpath
        part = target.with_name(target.name + ".part")
        old = recorded_sha256(folder / res.extract) if res.extract and res.sha256 else None
        if old and old != res.sha256.lower():  # a registry of a newer release than the unpacked files
            files[res.relpath] = f"stale: {res.extract}/ was unpacked from another release (fetch says what to do)"
        elif res.extract and (folder / res.extract / MARKER).is_file():
            files[res.relpath] = "unpacked"
        elif target.is_file():
            stamp, problem = _load_stamp(target)
            damaged = f" (its stamp is damaged: {problem})" if problem else ""
            files[res.relpath] = (
                f"verified ({stamp.get('verified_by')})"
                if _stamp_is_fresh(target, stamp)
                else f"present, not verified yet{damaged}"
            )
        elif res.extract and (folder / res.extract).exists():
            files[res.relpath] = f"{res.extract}/ is here without the unpacking marker (move it away and fetch again)"
        elif part.is_file():
            total = f" of {res.size:,}" if res.size else ""
            files[res.relpath] = f"partial download ({part.stat().st_size:,}{total} bytes; fetch resumes it)"
        else:
            files[res.relpath] = "absent"
    states = set(files.values())
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker:  # a file where the dataset's folder (or one above it) belongs
        overall = f"blocked: {_blocked(folder)}"
    elif states and all(s == "unpacked" or s.startswith(("verified", "present")) for s in states):
        overall = "present"
    elif states == {"absent"}:
        overall = "absent" + (" (manual: see the notes)" if ds.manual else f" (python -m helpers fetch {ds.name})")
    else:
        overall = "partial"
    return {
        "title": ds.title,
        "kind": ds.kind,
        "path": str(folder),
        "status": overall,
        "files": files,
        "download": ("manual (see 'manual'); " if ds.manual else "")
        + (", ".join(f"{r.filename} {r.approx}" for r in ds.resources if r.approx) or "size unknown"),
        "license": ds.license,
        "citation": ds.citation,
        **({"manual": manual_instructions(ds)} if ds.manual else {}),
    }
