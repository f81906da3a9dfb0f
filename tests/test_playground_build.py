"""The committed playground (codering_x/dispatcher/playground/) is the build of web/ as it is:
its first line names the sha256 of the sources it was built from (web/build.mjs computes it)."""

from __future__ import annotations

import hashlib
import json
import re

from codering_x.dispatcher.app import PLAYGROUND_DIR
from codering_x.localprocs import ROOT

WEB = ROOT / "web"


def sources_digest() -> str:
    paths = ["build.mjs", "package-lock.json", *sorted(f"src/{p.name}" for p in (WEB / "src").iterdir())]
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path}\0".encode() + (WEB / path).read_bytes() + b"\0")
    return digest.hexdigest()


def test_the_committed_build_is_the_build_of_the_sources():
    expected = f"/* codering-x playground, built from sources sha256:{sources_digest()} */"
    for built in ("playground.js", "playground.css"):
        first = (PLAYGROUND_DIR / built).read_text().splitlines()[0]
        assert first == expected, f"{built} is stale: run `make playground` and commit what it writes"
    assert (PLAYGROUND_DIR / "index.html").read_text() == (WEB / "src" / "index.html").read_text()


def test_every_package_is_pinned_by_the_lockfile():
    manifest = json.loads((WEB / "package.json").read_text())
    lock = json.loads((WEB / "package-lock.json").read_text())
    declared = {**manifest["dependencies"], **manifest["devDependencies"]}
    for name, version in declared.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned to one version: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert all("integrity" in entry for path, entry in lock["packages"].items() if path)
