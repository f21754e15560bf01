"""Command line: `python -m helpers datasets | build | fetch NAME | inspect NAME PATH`."""

import argparse
import json
import sys


def _one_line_warnings() -> None:
    """Warnings from the CLI as one line each ('warning: ...'), without Python's source-line echo."""
    import warnings

    warnings.formatwarning = lambda message, category, filename, lineno, line=None: f"warning: {message}\n"


def _said(e: OSError) -> str:
    """An OSError in one line; a permission error says how to use a cache of one's own (a shared, read-only one)."""
    if isinstance(e, PermissionError):
        return f"{e}; the cache folder is not yours to write: set SEEING_SAYING_CACHE to a folder you can write"
    return str(e)


def main(argv=None) -> int:
    _one_line_warnings()
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list the datasets and what is in the cache")
    b = sub.add_parser("build", help="generate the embedded dataset and its CNN features")
    b.add_argument("--force", action="store_true", help="rebuild even if a verified copy exists")
    b.add_argument("--no-features", action="store_true", help="only the images and captions")
    f = sub.add_parser("fetch", help="download, verify and unpack a real dataset ahead of class")
    f.add_argument("name", help="a dataset of `python -m helpers datasets` (e.g. coco, flickr8k, tiny-imagenet)")
    f.add_argument("--files", nargs="+", help="only these files of the dataset (e.g. annotations_trainval2014.zip)")
    f.add_argument("--no-extract", action="store_true", help="download and verify, do not unpack")
    f.add_argument("--delete-archives", action="store_true", help="delete each archive once it is unpacked")
    i = sub.add_parser("inspect", help="check a local copy of a dataset as the loaders read it; print a JSON summary")
    i.add_argument(
        "format", metavar="name", help="coco, coco-spanish, flickr8k, tiny-imagenet, embedded, word2vec or glove"
    )
    i.add_argument(
        "path",
        help="the dataset's folder (DATA_DIR), or a file: a coco captions JSON, "
        "Flickr8k.token.txt or captions.txt, a vector file",
    )
    i.add_argument("--images", help="the image folder, if it cannot be guessed")
    args = parser.parse_args(argv)

    if args.command == "build":
        from . import embedded

        try:
            root = embedded.build(force=args.force, features=not args.no_features)
        except OSError as e:  # the cache folder cannot be written: a file in the way, permissions, a full disk
            print(f"build: {e}; check SEEING_SAYING_CACHE and the space on its disk, then build again", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("build: interrupted; the half-built copy was removed, run it again to build", file=sys.stderr)
            return 130
        print(root)
    elif args.command == "datasets":
        from . import embedded
        from .download import REGISTRY, status

        try:
            found = {name: status(name) for name in REGISTRY}  # first: a cache path that is a file -> CacheError
            root = embedded.dataset_root()
        except OSError as e:
            print(f"datasets: {_said(e)}", file=sys.stderr)
            return 2
        state = "present" if root.exists() and not embedded.verify(root) else "absent (python -m helpers build)"
        out = {
            "embedded": {
                "title": "the book's own scenes and classes (built, not downloaded)",
                "path": str(root),
                "status": state,
            }
        }
        out.update(found)
        print(json.dumps(out, indent=1, ensure_ascii=False))
    elif args.command == "fetch":
        from .download import ArchiveError, ChecksumError, UnknownDatasetError, fetch, status

        try:
            folder = fetch(
                args.name, files=args.files, extract=not args.no_extract, delete_archives=args.delete_archives
            )
        except (ChecksumError, ArchiveError, UnknownDatasetError, KeyError, OSError) as e:
            # OSError: DownloadError, CacheError, DiskFullError (disk full while unpacking), permissions
            print(f"fetch {args.name}: {_said(e) if isinstance(e, OSError) else e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # what was kept is in the line fetch printed
            print(f"fetch {args.name}: interrupted", file=sys.stderr)
            return 130
        print(json.dumps({args.name: status(args.name)}, indent=1, ensure_ascii=False))
        print(folder)
    elif args.command == "inspect":
        from .datasets import inspect

        try:  # the errors a damaged, partial or unreadable copy gives (DatasetFormatError is a ValueError)
            summary = inspect(args.format, args.path, args.images)
        except (ValueError, OSError, KeyError, TypeError) as e:
            why = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
            print(f"inspect {args.format} {args.path}: {' '.join(why.split())}", file=sys.stderr)
            return 1
        print(json.dumps(summary, indent=1, ensure_ascii=False))
        if not summary["ok"]:
            print(f"inspect {args.format} {args.path}: {summary['problem']}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
