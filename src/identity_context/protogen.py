"""Regenerate ``generated/`` from ``proto/``: ``python -m identity_context.protogen``."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

__all__ = ["DESCRIPTOR_SET", "generate", "main", "repository_root"]

_PACKAGE_DIRS = ("identitycontext", "identitycontext/v1")
# Every file with its comments (source info) and its imports, for server reflection.
DESCRIPTOR_SET = "identitycontext/v1/descriptors.binpb"


def repository_root() -> Path:
    """Return the checkout this module lives in (``src/identity_context/..``)."""
    return Path(__file__).resolve().parents[2]


def generate(proto_root: Path, out_dir: Path) -> list[Path]:
    """Generate python, grpc and ``.pyi`` modules for every proto under *proto_root*.

    *out_dir* is emptied first. Return the generated files, relative to *out_dir*.

    Raise RuntimeError when protoc reports an error.
    """
    from grpc_tools import protoc

    protos = sorted(p.relative_to(proto_root).as_posix() for p in proto_root.rglob("*.proto"))
    if not protos:
        raise RuntimeError(f"no .proto files under {proto_root}")
    well_known = resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / DESCRIPTOR_SET).parent.mkdir(parents=True)
        args = [
            "grpc_tools.protoc",
            f"--proto_path={proto_root}",
            f"--proto_path={well_known}",
            f"--python_out={scratch}",
            f"--pyi_out={scratch}",
            f"--grpc_python_out={scratch}",
            f"--descriptor_set_out={Path(scratch) / DESCRIPTOR_SET}",
            "--include_source_info",
            "--include_imports",
            *protos,
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed; see the messages above")
        for package in _PACKAGE_DIRS:
            init = Path(scratch) / package / "__init__.py"
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text('"""Generated from proto/ by identity_context.protogen."""\n')
        (Path(scratch) / "identitycontext" / "py.typed").write_text("")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        shutil.copytree(scratch, out_dir)
    return sorted(p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    """Regenerate the committed ``generated/`` tree."""
    parser = argparse.ArgumentParser(description=__doc__)
    root = repository_root()
    parser.add_argument("--proto-root", type=Path, default=root / "proto")
    parser.add_argument("--out", type=Path, default=root / "generated")
    options = parser.parse_args(argv)
    files = generate(options.proto_root, options.out)
    print(f"generated {len(files)} files in {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
