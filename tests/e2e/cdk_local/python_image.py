"""A Python base image built here, FROM scratch, from this machine's own Python: no image can be pulled
on this machine, and ``examples/hello``'s Dockerfile starts ``FROM public.ecr.aws/docker/library/
python:3.12-slim``. With an image of that name in the local engine, ``docker build`` (run by the CDK CLI)
uses it and pulls nothing. Its rootfs: ``/usr/bin/python3.X`` (and ``python3``), its standard library
without the tests and GUI parts, the shared libraries the interpreter and its extension modules link
(read with ``ldd``), and ``/etc/passwd`` with ``nobody`` (the Dockerfile's ``USER nobody``).

An image of that name that is already there is used as it is (a real one, or one built before)."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path
from typing import Any

BASE = "public.ecr.aws/docker/library/python:3.12-slim"
LABEL = "albfargate-test"
_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "__pycache__"}


def _interpreter() -> Path:
    """A system interpreter under /usr (its prefix is /usr, so the image finds its stdlib there)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for cand in (Path(f"/usr/bin/python{version}"), Path("/usr/bin/python3")):
        if cand.is_file():
            return cand.resolve()
    raise RuntimeError("no /usr/bin/python3 to build the test's Python base image from")


def _libraries(paths: list[Path]) -> set[Path]:
    libs: set[Path] = set()
    for path in paths:
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=False).stdout
        for m in re.finditer(r"(/\S+\.so[.\d]*)", out):
            libs.add(Path(m.group(1)))
    return libs


def rootfs_tar(python: Path) -> bytes:
    version = python.name.removeprefix("python")
    stdlib = Path(f"/usr/lib/python{version}")
    if not (stdlib / "os.py").is_file():
        stdlib = Path(sysconfig.get_paths()["stdlib"])
    extensions = sorted((stdlib / "lib-dynload").glob("*.so")) if (stdlib / "lib-dynload").is_dir() else []
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add(path: Path, arcname: str | None = None) -> None:
            tar.add(str(path.resolve()), arcname=arcname or str(path).lstrip("/"), recursive=False)

        add(python, f"usr/bin/{python.name}")
        link = tarfile.TarInfo("usr/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, python.name
        tar.addfile(link)
        for lib in sorted(_libraries([python, *extensions])):
            add(lib)
        for f in sorted(stdlib.rglob("*")):
            rel = f.relative_to(stdlib)
            if f.is_dir() or _SKIP.intersection(rel.parts) or "site-packages" in rel.parts:
                continue
            if "dist-packages" in rel.parts or rel.parts[0].startswith("config-"):
                continue
            add(f, f"usr/lib/python{version}/{rel}")
        for name, text in {
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
            "etc/group": "root:x:0:\nnogroup:x:65534:\n",
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        dockerfile = (
            b"FROM scratch\nCOPY usr /usr\nCOPY lib /lib\nCOPY lib64 /lib64\nCOPY etc /etc\n"
            b"ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8\n"
            + f'LABEL {LABEL}="python-base"\nCMD ["python3"]\n'.encode()
        )
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    return buf.getvalue()


def ensure_python_base(client: Any, tag: str = BASE) -> str:
    """``tag`` in the local engine: kept when there, else built from this machine's Python."""
    import docker.errors

    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    context = rootfs_tar(_interpreter())
    client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=tag, rm=True, forcerm=True)
    return tag
