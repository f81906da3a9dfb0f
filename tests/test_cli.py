"""`codering-x run` as a user types it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codering_x.cli", *args], capture_output=True, text=True, **kw)


def test_run_prints_a_summary_and_exits_0(tmp_path: Path):
    (tmp_path / "main.py").write_text("import sys\nprint('hi', input(), sys.argv[1])")
    proc = cli("run", "python", str(tmp_path / "main.py"), "--stdin", "there", "--arg", "x")
    assert proc.returncode == 0, proc.stderr
    assert "python 3." in proc.stdout and "ok" in proc.stdout and "hi there x" in proc.stdout


def test_run_json_and_tests(tmp_path: Path):
    (tmp_path / "main.c").write_text('#include <stdio.h>\nint main(void){int a;scanf("%d",&a);printf("%d\\n",a*2);}')
    (tmp_path / "tests.json").write_text(
        json.dumps([{"stdin": "2", "expected_stdout": "4"}, {"stdin": "3", "expected_stdout": "7"}])
    )
    proc = cli("run", "c", str(tmp_path / "main.c"), "--tests", str(tmp_path / "tests.json"), "--json")
    assert proc.returncode == 1  # one test fails
    result = json.loads(proc.stdout)
    assert [t["status"] for t in result["tests"]] == ["ok", "wrong_answer"]


def test_unknown_runtime_is_a_clear_error(tmp_path: Path):
    (tmp_path / "x.cob").write_text("")
    proc = cli("run", "cobol", str(tmp_path / "x.cob"))
    assert proc.returncode == 2 and "unknown runtime 'cobol'" in proc.stderr and "Traceback" not in proc.stderr


def test_a_mistyped_configuration_key_is_named_not_ignored(tmp_path: Path):
    config = tmp_path / "codering.yaml"
    config.write_text("max_in_flight: 10\nhedge:\n  delay: 5\n")
    result = cli("serve", "--config", str(config), "--port", "0")
    assert result.returncode == 2
    assert "max_in_flight: Extra inputs are not permitted" in result.stderr, result.stderr
    assert "hedge.delay: Extra inputs are not permitted" in result.stderr
    assert "Traceback" not in result.stderr
