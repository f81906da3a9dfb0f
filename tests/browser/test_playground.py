"""The playground at `/`, in headless Chromium, against a real `codering-x serve`: what a
person sees and does on the page, through the public API only."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from codering_x.catalogue import Catalogue

RUNTIMES = sorted(Catalogue.load().runtimes)
HOOKS = ("runtime", "editor", "stdin", "args", "run", "run-interactive", "stdout", "stderr", "compile-output",
         "status", "terminal", "tests", "add-test")  # fmt: skip


def runtimes_of(url: str) -> list[dict]:
    with urllib.request.urlopen(url + "/v1/runtimes", timeout=10) as answer:
        return json.load(answer)["runtimes"]


def test_the_page_loads_its_own_files_only_with_no_error(page, served):
    resources = page.js(
        "return performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus])"
    )  # the page's own files and its API calls: nothing from elsewhere, none failed
    assert resources, "the page loaded no file"
    for name, status in resources:
        assert name.startswith(served + "/"), f"{name} is not from the service"
        assert status == 200, f"{name}: HTTP {status}"
    options = [o.get_attribute("value") for o in page.find("runtime").find_elements(By.TAG_NAME, "option")]
    assert options == [r["name"] for r in runtimes_of(served)] == RUNTIMES
    for hook in HOOKS:
        assert page.find(hook).is_displayed() or hook == "compile-output", f"{hook} is not shown"
    assert page.js("return window.codering.runtime()") == "python"
    page.screenshot("playground")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_each_runtimes_example_runs_from_the_page(page, served, runtime):
    example = next(r for r in runtimes_of(served) if r["name"] == runtime)["example"]
    page.pick(runtime)
    assert page.js("return window.codering.getCode()") == example["code"]
    assert page.find("stdin").get_attribute("value") == example["stdin"]
    status = page.run()
    assert status.startswith("OK · exit 0 · "), status
    assert page.text("stdout") == example["stdout"]
    assert page.text("stderr") == ""
    assert page.find("compile-output").is_displayed() == (runtime in ("c", "cpp", "go", "java", "rust"))


def test_an_interactive_python_program_prompts_reads_and_answers(page):
    page.js("window.codering.setCode(arguments[0])",
            'name = input("Your name? ")\nprint("You said:", name)\nage = input("Age? ")\nprint(f"{name} is {age}.")\n')  # fmt: skip
    page.find("run-interactive").click()
    page.wait(lambda: page.terminal().endswith("Your name?"), "the prompt, before any input")
    keys = page.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
    keys.send_keys("Ada" + Keys.ENTER)
    page.wait(lambda: "You said: Ada" in page.terminal() and page.terminal().endswith("Age?"), "the echo and prompt")
    keys.send_keys("36" + Keys.ENTER)
    page.wait(lambda: "Ada is 36." in page.terminal(), "the result line")
    page.wait(lambda: "[ok, exit 0]" in page.terminal() and page.find("run").is_enabled(), "the end of the run")
    assert page.text("status").startswith("OK")
    lines = page.terminal().splitlines()
    assert lines[:4] == ["Your name? Ada", "You said: Ada", "Age? 36", "Ada is 36."], lines
    page.screenshot("playground-interactive")


def test_ctrl_c_interrupts_an_interactive_run(page):
    page.js("window.codering.setCode(arguments[0])", 'input("waiting> ")\n')
    page.find("run-interactive").click()
    page.wait(lambda: page.terminal().endswith("waiting>"), "the prompt")
    page.driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(Keys.CONTROL, "c")
    page.wait(lambda: "KeyboardInterrupt" in page.terminal() and page.find("run").is_enabled(), "the interrupt")
    assert "signal 2" in page.terminal()


def test_a_compile_error_is_shown_apart_from_the_run(page):
    page.pick("c")
    page.js("window.codering.setCode(arguments[0])", "#include <stdio.h>\nint main(void) {\n    return nope;\n}\n")
    status = page.run()
    assert status.startswith("Compile error"), status
    compiled = page.text("compile-output")
    assert "main.c:3" in compiled and "nope" in compiled and "error" in compiled
    assert page.text("stdout") == page.text("stderr") == ""
    page.screenshot("playground-compile-error")


def test_a_time_limit_says_which_limit_fired(page):
    page.find("limits").find_element(By.XPATH, "..").click()  # open the Limits box
    page.fill("limit-cpu_time_ms", "1000")
    page.js("window.codering.setCode(arguments[0])", "while True:\n    pass\n")
    status = page.run()
    assert status.startswith("Time limit · signal 24 · CPU time limit exceeded · CPU "), status


def test_a_limit_over_its_maximum_is_refused_on_the_page(page, served):
    maximum = next(r for r in runtimes_of(served) if r["name"] == "python")["maximum_limits"]["memory_mb"]
    page.find("limits").find_element(By.XPATH, "..").click()
    page.fill("limit-memory_mb", str(maximum + 1))
    status = page.run()
    assert status == f"Invalid limit · memory_mb must be a whole number from 1 to {maximum}"


def test_tests_show_a_verdict_each_and_a_diff_for_the_failing_one(page):
    for name, stdin, expected in (("ada", "Ada\n", "Hello, Ada!\n"), ("bob", "Bob\n", "Hello, Bobby!\n")):
        page.find("add-test").click()
        test = page.all("test")[-1]
        for field, text in (("test-name", name), ("test-stdin", stdin), ("test-expected", expected)):
            test.find_element(By.CSS_SELECTOR, f'[data-testid="{field}"]').send_keys(text)
    status = page.run()
    assert status.startswith("Wrong answer · 1/2 tests passed · "), status
    passed, failed = page.all("verdict")
    assert passed.text == "passed" and failed.text.startswith("wrong answer")
    diff = failed.find_element(By.CSS_SELECTOR, '[data-testid="diff"]')
    assert [(line.get_attribute("class"), line.text) for line in diff.find_elements(By.TAG_NAME, "div")] == [
        ("removed", "- Hello, Bobby!"),
        ("added", "+ Hello, Bob!"),
    ]
    page.screenshot("playground-tests")


def test_a_megabyte_of_output_is_shown_truncated_and_the_page_stays_responsive(page):
    page.find("limits").find_element(By.XPATH, "..").click()
    page.fill("limit-output_bytes", str(1 << 20))
    page.js("window.codering.setCode(arguments[0])", "import sys\nsys.stdout.write('x' * 3_000_000)\n")
    page.run()
    assert len(page.text("stdout")) == 1 << 20
    assert "truncated" in page.text("stdout-note")
    started = time.monotonic()
    page.js("window.codering.setCode(arguments[0])", "print('still here')\n")
    assert page.js("return window.codering.getCode()") == "print('still here')\n"
    answered = time.monotonic() - started
    assert answered < 5, f"the page took {answered:.1f} s to take an edit after 1 MB of output"
    assert page.run().startswith("OK") and page.text("stdout") == "still here\n"
    assert page.text("stdout-note") == ""


def test_ctrl_enter_runs_and_several_files_run_together(page):
    page.find("new-file").send_keys("greet.py")
    page.find("add-file").click()
    page.driver.find_element(By.CSS_SELECTOR, "#editor .cm-content").send_keys("def greet(n):\n    return 'hi ' + n")
    page.all("tab")[0].find_element(By.TAG_NAME, "button").click()
    page.js("window.codering.setCode(arguments[0])", "from greet import greet\nprint(greet(input()))\n")
    page.driver.find_element(By.CSS_SELECTOR, "#editor .cm-content").send_keys(Keys.CONTROL, Keys.ENTER)
    page.wait(lambda: page.text("stdout") == "hi Ada\n", "the two files' output")
    assert [f["name"] for f in page.js("return window.codering.files()")] == ["main.py", "greet.py"]


def test_a_reload_keeps_the_runtime_the_code_and_the_tests(page):
    page.pick("ruby")
    page.js("window.codering.setCode(arguments[0])", 'puts "kept"\n')
    page.find("add-test").click()
    page.all("test")[-1].find_element(By.CSS_SELECTOR, '[data-testid="test-expected"]').send_keys("kept")
    time.sleep(0.5)  # the page saves at most every 300 ms
    page.open(fresh=False)
    assert page.js("return window.codering.runtime()") == "ruby"
    assert page.js("return window.codering.getCode()") == 'puts "kept"\n'
    assert page.run().startswith("OK") and page.all("verdict")[0].text == "passed"


def test_output_that_looks_like_markup_is_shown_as_text(page):
    markup = '<img id="injected" src="x" onerror="window.pwned = 1"><b id="bold">b</b>'
    page.js(
        "window.codering.setCode(arguments[0])", f"import sys\nprint({markup!r})\nprint({markup!r}, file=sys.stderr)\n"
    )
    page.find("add-test").click()
    page.all("test")[-1].find_element(By.CSS_SELECTOR, '[data-testid="test-expected"]').send_keys(markup + "!")
    page.run()
    assert page.js("return document.querySelector('#injected, #bold') === null && window.pwned === undefined")
    assert markup in page.find("diff").text and markup in page.find("verdict").text


def test_compile_options_from_the_page_reach_the_compiler(page):
    page.pick("c")
    assert page.find("compile-options").get_attribute("placeholder") == "-std=gnu17 -O2"
    assert not page.find("run-options").is_enabled()  # c takes no run options
    page.js(
        "window.codering.setCode(arguments[0])", '#include <stdio.h>\nint main(void) { printf("%d\\n", LIMIT * 2); }\n'
    )
    assert page.run().startswith("Compile error")
    page.fill("compile-options", "-std=c99 -DLIMIT=21")
    assert page.run().startswith("OK") and page.text("stdout") == "42\n"
    page.fill("compile-options", "-DLIMIT=$(id)")
    status = page.run()
    assert status.startswith("Invalid option: compile option '-DLIMIT=$(id)' is not allowed"), status
    refused = page.console_errors()  # the browser logs the 400 itself: that one, and nothing else
    assert len(refused) == 1 and "v1/run" in refused[0]["message"] and "400" in refused[0]["message"]
