"""The catalogue: ten runtimes, their aliases, argv built without a shell."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codering_x.catalogue import Catalogue, UnknownRuntime
from tests.conftest import ALL_RUNTIMES


def test_all_ten_runtimes_are_described():
    assert sorted(Catalogue.load().runtimes) == ALL_RUNTIMES


@pytest.mark.parametrize(
    ("alias", "name"),
    [("py", "python"), ("Python3", "python"), ("js", "javascript"), ("node", "javascript"), ("c++", "cpp"),
     ("golang", "go"), ("rs", "rust"), ("rb", "ruby"), ("sh", "bash")],
)  # fmt: skip
def test_aliases_resolve(alias, name):
    assert Catalogue.load().get(alias).name == name


def test_unknown_runtime_lists_the_known_ones():
    with pytest.raises(UnknownRuntime) as info:
        Catalogue.load().get("cobol")
    assert "cobol" in str(info.value) and "python" in info.value.known


def test_missing_toolchain_is_unavailable_not_an_error(tmp_path: Path):
    spec = yaml.safe_load((Path("runtimes/python/runtime.yaml")).read_text())
    spec["run"]["argv"][0] = "no-such-interpreter-x"
    spec["version"]["argv"][0] = "no-such-interpreter-x"
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "runtime.yaml").write_text(yaml.safe_dump(spec))
    runtime = Catalogue.load(tmp_path).get("python")
    assert not runtime.available and runtime.missing_tools == ["no-such-interpreter-x"]
    assert runtime.toolchain_version == "unavailable"


def test_user_data_fills_whole_argv_elements():
    runtime = Catalogue.load().get("c")
    assert runtime.compile is not None
    argv = runtime.expand(runtime.compile, "a b;rm -rf.c", ["a b;rm -rf.c", "x.c"], "/w", 256)
    assert argv[0].startswith("/") and "a b;rm -rf.c" in argv and "x.c" in argv


def test_memory_flags_follow_the_limit():
    catalogue = Catalogue.load()
    java = catalogue.get("java")
    assert "-Xmx192m" in java.expand(java.run, "Main.java", [], "/w", 256)
    node = catalogue.get("javascript")
    assert "--max-old-space-size=192" in node.expand(node.run, "main.js", [], "/w", 256)
    go = catalogue.get("go")
    assert go.environment(go.run, "main.go", "/w", 256)["GOMEMLIMIT"] == "192MiB"


def test_environment_is_scrubbed_and_private():
    python = Catalogue.load().get("python")
    env = python.environment(python.run, "main.py", "/w", 256)
    assert env["HOME"] == env["TMPDIR"] == "/w"
    # the base four, then what runtimes/python/runtime.yaml sets: nothing of the server's
    assert set(env) == {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "PYTHONDONTWRITEBYTECODE",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
    }
