"""Interactive sessions (GET /v1/interactive), end to end: real worker processes, a real
dispatcher in front of them, a real WebSocket client (aiohttp's).

One dispatcher serves most tests: two python workers and two c workers, with a token, one
allowed browser origin and a bound of 3 sessions per runtime, as an operator would set them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from codering_x.localprocs import Procs, call
from codering_x.sandbox.procs import processes_of_uid

TOKEN = "s3cret-token"
ORIGIN = "http://learn.example"
MAX_SESSIONS = 3
PROMPT_C = '#include <stdio.h>\nint main(){char n[64];printf("Your name? ");if(scanf("%63s",n)!=1)return 2;printf("hi %s\\n",n);return 0;}\n'
PROMPT_PY = 'name = input("Your name? ")\nprint("hi", name)\n'


@pytest.fixture(scope="module")
def service(tmp_path_factory, engine):
    """(dispatcher URL, its workers by name). `engine`: the toolchains are here."""
    procs = Procs(tmp=tmp_path_factory.mktemp("interactive"))
    workers = [procs.worker("python", "python-1"), procs.worker("python", "python-2")]
    workers += [procs.worker("c", "c-1"), procs.worker("c", "c-2")]
    dispatcher = procs.dispatcher(workers, token=TOKEN, cors_origins=[ORIGIN], max_sessions_per_runtime=MAX_SESSIONS)
    yield dispatcher.url, {w.name: w for w in workers}
    procs.stop_all()


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/v1/interactive"


class Client:
    """A learner's browser tab, reduced to its WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def send(self, **frame: Any) -> None:
        await self.ws.send_str(json.dumps(frame))

    async def next(self, timeout: float = 20) -> dict[str, Any] | None:
        """The next frame; None once the server has closed."""
        message = await asyncio.wait_for(self.ws.receive(), timeout)
        if message.type != aiohttp.WSMsgType.TEXT:
            return None
        frame = json.loads(message.data)
        self.frames.append(frame)
        return frame

    async def until(self, *types: str, timeout: float = 30) -> dict[str, Any]:
        """Read up to (and including) the first frame of one of `types`."""
        end = time.monotonic() + timeout
        while True:
            frame = await self.next(max(0.1, end - time.monotonic()))
            assert frame is not None, f"closed ({self.ws.close_code}) before {types}: {self.frames}"
            if frame["type"] in types:
                return frame

    async def rest(self) -> list[dict[str, Any]]:
        """Every frame until the server closes."""
        while await self.next() is not None:
            pass
        return self.frames

    def output(self, stream: str = "stdout") -> bytes:
        out = b""
        for f in self.frames:
            if f["type"] == "output" and f["stream"] == stream:
                out += base64.b64decode(f["data"]) if f.get("encoding") == "base64" else f["data"].encode()
        return out

    async def prompt(self, text: str, timeout: float = 20) -> None:
        """Wait until `text` has been printed to stdout."""
        end = time.monotonic() + timeout
        while text.encode() not in self.output():
            frame = await self.next(max(0.1, end - time.monotonic()))
            assert frame is not None and frame["type"] != "result", f"no {text!r}: {self.frames}"


async def session(url: str, start: dict[str, Any] | None = None, origin: str | None = None, **fields: Any):
    """Open a session (and send `start` with the token, unless start is None)."""
    http = aiohttp.ClientSession()
    headers = {"Origin": origin} if origin else {}
    ws = await http.ws_connect(ws_url(url), headers=headers, max_msg_size=16 << 20)
    ws._codering_http = http  # closed with the socket, in `closing`
    client = Client(ws)
    if start is not None:
        await client.send(type="start", token=TOKEN, **start, **fields)
    return client


async def closing(client: Client) -> None:
    await client.ws.close()
    await client.ws._codering_http.close()


@contextlib.asynccontextmanager
async def opened(url: str, start: dict[str, Any] | None = None, **fields: Any) -> AsyncIterator[Client]:
    """A session for the length of a block."""
    client = await session(url, start, **fields)
    try:
        yield client
    finally:
        await closing(client)


def live(coro_fn):
    """Run an async test body on its own event loop."""

    @functools.wraps(coro_fn)
    def wrapper(*args, **kwargs):
        asyncio.run(asyncio.wait_for(coro_fn(*args, **kwargs), 120))

    return wrapper


def check_sequence(frames: list[dict[str, Any]]) -> None:
    assert [f["seq"] for f in frames] == list(range(len(frames))), frames


# -- the prompt, stdin and eof ----------------------------------------------------------------
@pytest.mark.parametrize("runtime, code", [("python", PROMPT_PY), ("c", PROMPT_C)])
@live
async def test_a_prompt_without_a_newline_arrives_before_any_stdin(service, runtime, code):
    url, _ = service
    async with opened(url, {"runtime": runtime, "code": code}) as client:
        accepted = await client.until("accepted")
        assert accepted["runtime"]["name"] == runtime and accepted["limits"]["wall_time_ms"] == 60000
        await client.prompt("Your name? ")  # nothing was sent yet
        await client.send(type="stdin", data="Ann\n")
        result = (await client.until("result"))["result"]
        assert client.output() == b"Your name? hi Ann\n"
        assert result["status"] == "ok" and result["run"]["exit_code"] == 0
        assert result["run"]["stdout"] == ""  # streamed, not repeated
        stages = [f["stage"] for f in client.frames if f["type"] == "stage"]
        assert stages == (["compile", "run"] if runtime == "c" else ["run"])
        await client.rest()
        assert client.ws.close_code == 1000
        check_sequence(client.frames)


@live
async def test_eof_ends_stdin_and_a_second_eof_or_later_stdin_is_ignored(service):
    url, _ = service
    code = "import sys\ndata = sys.stdin.read()\nprint(repr(data))\n"
    async with opened(url, {"runtime": "python", "code": code}) as client:
        await client.until("accepted")
        await client.send(type="stdin", data="one\n")
        await client.send(type="stdin", data="two")
        await client.send(type="eof")
        await client.send(type="eof")
        await client.send(type="stdin", data="after eof")
        result = (await client.until("result"))["result"]
        assert result["status"] == "ok"
        assert client.output() == b"'one\\ntwo'\n"
        assert not [f for f in client.frames if f["type"] == "error"]


@live
async def test_a_session_takes_compile_and_run_options(service):
    url, _ = service
    code = "import sys\nprint(sys.flags.optimize, input())\n"
    async with opened(url, {"runtime": "python", "code": code, "run_options": ["-OO"]}) as client:
        await client.until("accepted")
        await client.send(type="stdin", data="py\n")
        assert (await client.until("result"))["result"]["status"] == "ok" and client.output() == b"2 py\n"
    code = '#include <stdio.h>\nint main(void) { printf("%d\\n", LIMIT); return 0; }\n'
    async with opened(url, {"runtime": "c", "code": code, "compile_options": ["-DLIMIT=7"]}) as client:
        assert (await client.until("result"))["result"]["status"] == "ok" and client.output() == b"7\n"


@live
async def test_a_program_that_exits_while_the_client_types_gives_its_result(service):
    url, _ = service
    async with opened(url, {"runtime": "python", "code": "print(input())\nraise SystemExit(3)"}) as client:
        await client.until("stage")
        for i in range(20):
            await client.send(type="stdin", data=f"line {i}\n")
        result = (await client.until("result"))["result"]
        assert (result["status"], result["run"]["exit_code"]) == ("runtime_error", 3)
        assert client.output() == b"line 0\n"
        await client.rest()
        assert client.ws.close_code == 1000


@live
async def test_stdin_sent_during_the_compile_reaches_the_program_whole(service):
    """Sent before the run stage, it is held for the program: the compiler never reads it."""
    url, _ = service
    code = '#include <stdio.h>\nint main(){int c;long n=0;while((c=getchar())!=EOF){putchar(c);n++;}printf("|%ld\\n",n);}\n'
    async with opened(url, {"runtime": "c", "code": code}) as client:
        await client.send(type="stdin", data="held for the program\n")
        await client.send(type="eof")
        result = (await client.until("result"))["result"]
        assert result["compile"]["status"] == "ok" and result["status"] == "ok"
        assert client.output() == b"held for the program\n|21\n"


# -- signals, limits, output ----------------------------------------------------------------
@live
async def test_sigint_gives_python_a_keyboard_interrupt(service):
    url, _ = service
    code = "import time\nprint('ready', flush=True)\ntime.sleep(30)"
    async with opened(url, {"runtime": "python", "code": code}) as client:
        await client.prompt("ready")
        await client.send(type="signal", signal="SIGHUP")  # not one of ours: said, and the session goes on
        error = await client.until("error")
        assert error["error"]["code"] == "invalid_frame"
        await client.send(type="signal", signal="SIGINT")
        result = (await client.until("result"))["result"]
        assert "KeyboardInterrupt" in client.output("stderr").decode()
        assert result["status"] == "runtime_error" and result["run"]["limit"] is None


@pytest.mark.parametrize(
    "code, limits, limit",
    [
        ("input()", {"wall_time_ms": 1000}, "wall"),  # waiting for input counts
        ("while True: pass", {"cpu_time_ms": 500}, "cpu"),
        ("chunks = []\nwhile True: chunks.append(bytearray(8 << 20))", {"memory_mb": 64}, "memory"),
    ],
)
@live
async def test_each_limit_gives_its_status(service, code, limits, limit):
    url, _ = service
    async with opened(url, {"runtime": "python", "code": code, "limits": limits}) as client:
        result = (await client.until("result"))["result"]
        assert result["run"]["limit"] == limit
        assert result["status"] == ("memory_limit" if limit == "memory" else "time_limit")


@live
async def test_an_output_flood_read_slowly_ends_at_the_cap_with_bounded_memory(service):
    url, workers = service
    code = "import sys\nwhile True: sys.stdout.write('0123456789' * 1000)"
    before = {name: rss_kb(w.popen.pid) for name, w in workers.items()}
    async with opened(url, {"runtime": "python", "code": code, "limits": {"output_bytes": 1 << 20}}) as client:
        await client.until("stage")
        while True:
            frame = await client.next()
            assert frame is not None
            if frame["type"] == "result":
                break
            await asyncio.sleep(0.02)  # a slow reader: the program waits, nothing piles up
        result = frame["result"]
        assert (result["status"], result["run"]["limit"]) == ("output_limit", "output")
        assert result["run"]["stdout_truncated"]
        assert len(client.output()) == 1 << 20  # the cap's prefix, exactly
        grown = {name: rss_kb(w.popen.pid) - before[name] for name, w in workers.items()}
        assert max(grown.values()) < 32 << 10, grown  # KiB: far below what was produced


@live
async def test_a_character_split_across_pipe_reads_arrives_whole(service):
    url, _ = service
    # 'é' is 2 bytes: its first byte ends one write, its second starts the next, 0.3 s later
    code = (
        "import os, time\nos.write(1, 'aé'.encode()[:2])\ntime.sleep(0.3)\nos.write(1, 'é€'.encode()[1:] + b'\\xff')\n"
    )
    async with opened(url, {"runtime": "python", "code": code}) as client:
        await client.until("result")
        outputs = [f for f in client.frames if f["type"] == "output"]
        texts = [f["data"] for f in outputs if f["encoding"] == "utf-8"]
        assert "".join(texts) == "aé€" and "a" in texts and "é€" in texts
        assert [f["data"] for f in outputs if f["encoding"] == "base64"] == [base64.b64encode(b"\xff").decode()]


# -- isolation and ending -------------------------------------------------------------------
@live
async def test_two_sessions_at_once_see_nothing_of_each_other(service):
    url, _ = service
    code = "import os\nprint(os.getcwd(), os.getuid(), flush=True)\nother = input()\n"
    code += "try:\n    print(os.listdir(other))\nexcept OSError as e:\n    print('denied', type(e).__name__)\n"
    async with (
        opened(url, {"runtime": "python", "code": code}) as a,
        opened(url, {"runtime": "python", "code": code}) as b,
    ):
        await a.prompt("\n")
        await b.prompt("\n")
        a_dir, a_uid = a.output().decode().split()
        b_dir, b_uid = b.output().decode().split()
        assert a_dir != b_dir and a_uid != b_uid
        await a.send(type="stdin", data=b_dir + "\n")
        await b.send(type="stdin", data=a_dir + "\n")
        await a.until("result")
        await b.until("result")
        assert a.output().decode().splitlines()[1] == "denied PermissionError"
        assert b.output().decode().splitlines()[1] == "denied PermissionError"


@live
async def test_a_client_that_leaves_while_the_program_waits_ends_the_run(service):
    url, _ = service
    code = "import os\nprint(os.getuid(), os.getcwd(), flush=True)\ninput()\n"
    client = await session(url, {"runtime": "python", "code": code})
    await client.prompt("\n")
    uid, workdir = client.output().decode().split()
    assert processes_of_uid(int(uid))  # it waits
    await closing(client)
    left = time.monotonic()
    while processes_of_uid(int(uid)) and time.monotonic() - left < 2.0:
        await asyncio.sleep(0.01)
    gone_after = time.monotonic() - left
    assert not processes_of_uid(int(uid)), "the run outlived its session by 2 s"
    print(f"run killed {gone_after * 1000:.0f} ms after its client left")
    while Path(workdir).exists() and time.monotonic() - left < 10:
        await asyncio.sleep(0.05)
    assert not Path(workdir).exists(), "its box was not removed"


@live
async def test_a_hedged_session_runs_once_and_the_loser_sends_nothing(service):
    url, _ = service
    async with opened(url, {"runtime": "python", "code": "print('once')"}) as client:
        frames = await client.rest()
        assert client.output() == b"once\n"
        assert [f["type"] for f in frames] == ["accepted", "stage", "output", "result"]
        assert len({f["session"] for f in frames if f["type"] == "accepted"}) == 1
        check_sequence(frames)
        assert frames[-1]["result"]["meta"]["worker"] in ("python-1", "python-2")


# -- bad input --------------------------------------------------------------------------------
async def first_error(client: Client) -> tuple[dict[str, Any], int | None]:
    frame = await client.until("error")
    await client.rest()
    return frame["error"], client.ws.close_code


@pytest.mark.parametrize(
    "start, code",
    [
        ({"runtime": "cobol-2077", "code": "x"}, "unknown_runtime"),
        ({"runtime": "python"}, "invalid_request"),  # neither code nor files
        ({"runtime": "python", "code": "x", "stdin": "no"}, "invalid_request"),  # stdin comes in frames
        ({"runtime": "python", "code": "x", "limits": {"wall_time_ms": 700_000}}, "invalid_request"),
    ],
)
@live
async def test_a_bad_start_is_a_clear_4400(service, start, code):
    url, _ = service
    async with opened(url, start) as client:
        error, close_code = await first_error(client)
        assert (error["code"], close_code) == (code, 4400)


@live
async def test_a_missing_token_or_a_late_start_is_refused(service):
    url, _ = service
    async with opened(url) as client:
        await client.send(type="start", runtime="python", code="print(1)")  # no token
        assert await first_error(client) == (
            {
                "code": "unauthorized",
                "message": "a valid token is required (the start frame's `token`)",
                "details": None,
            },
            4400,
        )
    async with opened(url) as client:
        started = time.monotonic()
        error, close_code = await first_error(client)
        assert (error["code"], close_code) == ("start_timeout", 4400) and time.monotonic() - started < 8


@live
async def test_a_second_start_or_a_bad_frame_is_said_and_the_session_goes_on(service):
    url, _ = service
    async with opened(url, {"runtime": "python", "code": "print(input())"}) as client:
        await client.until("stage")
        await client.send(type="start", runtime="python", code="print(2)", token=TOKEN)
        await client.send(type="stdin", data="x" * 70_000)  # over one frame's 65536 characters
        await client.ws.send_str("not json")
        errors = [await client.until("error") for _ in range(3)]
        assert [e["error"]["code"] for e in errors] == ["unexpected_start", "invalid_frame", "invalid_frame"]
        await client.send(type="stdin", data="still here\n")
        result = (await client.until("result"))["result"]
        assert result["status"] == "ok" and client.output() == b"still here\n"


@live
async def test_an_oversized_frame_closes_the_session(service):
    url, _ = service
    async with opened(url, {"runtime": "python", "code": "input()"}) as client:
        await client.until("stage")
        await client.ws.send_str(json.dumps({"type": "stdin", "data": "x" * (10 << 20)}))
        await client.rest()
        assert client.ws.close_code == 1009  # message too big


def test_a_browser_from_another_origin_is_refused(service):
    url, _ = service

    async def attempt(origin: str) -> int:
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(ws_url(url), headers={"Origin": origin}) as ws:
                    await ws.close()
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(attempt("http://evil.example")) == 403
    assert asyncio.run(attempt(ORIGIN)) == 101
    # The playground's page is served by the dispatcher itself: its own origin is allowed,
    # the same host on another port is another origin.
    own = url.removesuffix("/")
    host, port = own.rsplit(":", 1)
    assert asyncio.run(attempt(own)) == 101
    assert asyncio.run(attempt(f"{host}:{int(port) + 1}")) == 403


def test_a_worker_takes_no_browser_session(service):
    """A worker is reached by the dispatcher only: a page on any origin is refused."""
    _, workers = service

    async def attempt() -> int:
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(ws_url(workers["python-1"].url), headers={"Origin": ORIGIN}):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(attempt()) == 403


@live
async def test_sessions_past_the_bound_are_told_to_retry(service):
    url, _ = service
    waiting = [await session(url, {"runtime": "python", "code": "input()"}) for _ in range(MAX_SESSIONS)]
    try:
        for client in waiting:
            await client.until("stage")
        async with opened(url, {"runtime": "python", "code": "print(1)"}) as extra:
            error, close_code = await first_error(extra)
            assert (error["code"], close_code) == ("busy", 4429) and error["details"] == {"retry_after_s": 1}
    finally:
        for client in waiting:
            await closing(client)


# -- the worker dies ----------------------------------------------------------------------------
@live
async def test_sigkill_of_the_pinned_worker_is_worker_lost(procs):
    workers = [procs.worker("python", "python-1"), procs.worker("python", "python-2")]
    dispatcher = procs.dispatcher(workers)
    async with opened(dispatcher.url, {"runtime": "python", "code": "print('waiting', flush=True)\ninput()"}) as client:
        await client.prompt("waiting")
        await asyncio.sleep(0.3)  # the loser's session has ended
        busy = [w for w in workers if call(w.url, "/healthz")[1]["in_flight"] == 1]
        assert len(busy) == 1, "exactly one worker runs the session"
        os.kill(busy[0].popen.pid, signal.SIGKILL)
        error, close_code = await first_error(client)
        assert (error["code"], close_code) == ("worker_lost", 1011)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")
