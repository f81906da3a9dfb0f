"""A runtime's libraries (`libraries:` in its runtime.yaml): importable by a learner's program,
listed with their versions, and bounded by the same limits as any other code."""

from __future__ import annotations

from codering_x.catalogue import Catalogue

NUMPY = (
    "import numpy as np\nprint(np.arange(10).sum(), round(float(np.linalg.det(np.eye(3) * 2)), 3), np.__version__)\n"
)


def test_numpy_is_listed_with_the_version_a_program_sees(run):
    listed = Catalogue.load().get("python").describe()["libraries"]
    assert [lib["name"] for lib in listed] == ["numpy"]
    result = run("python", NUMPY)
    assert result.status == "ok", result.run.stderr
    assert result.run.stdout == f"45 8.0 {listed[0]['version']}\n"


def test_numpy_runs_the_same_on_a_prewarmed_member_and_cold(run):
    warm = run("python", NUMPY)
    cold = run("python", NUMPY, run_options=["-B"])  # a run with options starts cold
    assert warm.run.stdout == cold.run.stdout and warm.status == cold.status == "ok"


def test_the_memory_limit_holds_with_numpy_imported(run):
    code = "import numpy as np\na = np.ones((600 << 20) // 8)\nprint(a.sum())\n"
    result = run("python", code, limits={"memory_mb": 256})
    assert result.status == "memory_limit", (result.run.stdout, result.run.stderr)


def test_openblas_keeps_to_one_thread_within_the_process_limit(run):
    code = "import numpy as np, threading\nnp.dot(np.ones((200, 200)), np.ones((200, 200)))\nimport os\nprint(len(os.listdir('/proc/self/task')))\n"
    result = run("python", code, limits={"processes": 4})
    assert result.status == "ok" and result.run.stdout == "1\n", result.run.stderr


def test_a_prewarmed_member_has_not_imported_numpy(run):
    code = "import sys\nprint([m for m in sys.modules if m.split('.')[0] in ('numpy', '_multiarray_umath')])\n"
    assert run("python", code).run.stdout == "[]\n"
