"""Jobs started in a forked child: the value comes back, and any failure of the child leaves the job to the parent.

Each case runs in a fresh interpreter (the test process may have threads, and then nothing is forked at all).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from sovrium_tui import forked


def _run(body: str) -> str:
    script = "import os, sys, time\nfrom sovrium_tui import forked\nPARENT = os.getpid()\n" + textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_job_runs_in_another_process_while_this_one_works() -> None:
    output = _run(
        """
        def job():
            time.sleep(0.5)
            return os.getpid(), [1, "two", {"three": 3.0}]
        started = time.monotonic()
        with forked.started(job) as pending:
            time.sleep(0.5)  # this process's own work, at the same time
            pid, value = pending.result()
        print(pid != PARENT, value, time.monotonic() - started < 0.9)
        """
    )
    assert output == "True [1, 'two', {'three': 3.0}] True"


def test_a_job_that_fails_in_the_child_runs_again_here_and_raises_here() -> None:
    output = _run(
        """
        def flaky():
            if os.getpid() != PARENT:
                raise RuntimeError("only in the child")
            return "from the parent"
        with forked.started(flaky) as pending:
            print(pending.result())
        def broken():
            raise LookupError("always")
        with forked.started(broken) as pending:
            try:
                pending.result()
            except LookupError as error:
                print("raised here:", error)
        """
    )
    assert output.splitlines() == ["from the parent", "raised here: always"]


def test_a_child_that_dies_or_sends_what_cannot_be_pickled_leaves_the_job_here() -> None:
    output = _run(
        """
        def dies():
            if os.getpid() != PARENT:
                os._exit(7)
            return "survived"
        def unpicklable():
            return (lambda: None) if os.getpid() != PARENT else "pickled here"
        for job in (dies, unpicklable):
            with forked.started(job) as pending:
                print(pending.result())
        """
    )
    assert output.splitlines() == ["survived", "pickled here"]


def test_leaving_the_block_without_the_result_stops_the_child() -> None:
    output = _run(
        """
        def slow():
            with open("/dev/null", "w"):
                time.sleep(30)
        started = time.monotonic()
        try:
            with forked.started(slow) as pending:
                child = pending._pid
                raise KeyError("the caller failed first")
        except KeyError:
            pass
        try:
            os.kill(child, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        print(child is not None, alive, time.monotonic() - started < 5)
        """
    )
    assert output == "True False True", "the child was started, then stopped and reaped"


def test_nothing_is_forked_while_threads_run() -> None:
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        import os

        with forked.started(os.getpid) as pending:
            assert pending.result() == os.getpid()
    finally:
        stop.set()
        helper.join()


@pytest.mark.parametrize("value", [None, 0, "", ("a", 1)])
def test_any_picklable_value_comes_back_as_it_was(value: object) -> None:
    output = _run(
        f"""
        with forked.started(lambda: {value!r}) as pending:
            print(repr(pending.result()))
        """
    )
    assert output == repr(value)


def test_the_result_is_waited_for() -> None:
    output = _run(
        """
        with forked.started(lambda: time.sleep(0.3) or "slept") as pending:
            before = time.monotonic()
            value = pending.result()
        print(value, time.monotonic() - before >= 0.2)
        """
    )
    assert output == "slept True"


def test_a_plans_target_catalog_comes_from_the_child_and_is_compiled_once() -> None:
    output = _run(
        """
        from sovrium_tui import services
        from sovrium_tui.catalog import compile_app
        from sovrium_tui.planning.plan import canonical_json
        from sovrium_tui.schema import app_snapshot, recorded_app
        from sovrium_tui.schema.js_json import read_json

        def schema(*names):
            fields = [{"id": i, "name": n, "type": "single-line-text"} for i, n in enumerate(names, start=1)]
            return canonical_json({"name": "app", "tables": [{"id": 1, "name": "items", "fields": fields}]})

        plan_schema = schema("title")
        with forked.started(lambda: (os.getpid(), services._compiled_once(plan_schema))) as compiling:
            child, compiled = compiling.result()
        target = services._TargetCatalog(plan_schema, forked.Pending(lambda: compiled))
        first = target(read_json(plan_schema))
        print(child != PARENT, first == compile_app(recorded_app(read_json(plan_schema))))
        print(target(read_json(plan_schema)) is first)  # remembered: a fleet applies one plan many times
        other = schema("title", "note")
        print(target(read_json(other)) == compile_app(recorded_app(read_json(other))))
        """
    )
    assert output.split() == ["True", "True", "True", "True"]
