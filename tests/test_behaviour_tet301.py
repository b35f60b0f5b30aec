"""TET301 proved by running: a client's keep-alive task keeps running after close() before
the fix and is stopped by close() after it, with everything else printed the same; plus the
asyncio pitfalls of SPEC section 4 that a cancel-and-wait in a close method must respect."""

from __future__ import annotations

import sys

import pytest

from behaviour import before_after, other_pythons

PYTHONS = [sys.executable, *other_pythons()]

ASYNC_CLIENT = """
import asyncio

pings = []


class Client:
    def __init__(self):
        self.closed = False
        self._workers = set()

    async def connect(self):
        self._keepalive = asyncio.create_task(self._ping_forever())
        for name in ("reader", "writer"):
            self._workers.add(asyncio.create_task(self._work(name)))

    async def _ping_forever(self):
        while True:
            pings.append("ping")
            await asyncio.sleep(0.01)

    async def _work(self, name):
        await asyncio.sleep(3600)

    async def close(self):
        \"\"\"Close the client; a second call does nothing.\"\"\"
        if self.closed:
            return "already closed"
        self.closed = True
        return "closed"


async def main():
    print("close before connect:", await Client().close())
    client = Client()
    await client.connect()
    await asyncio.sleep(0.035)
    print("first close:", await client.close())
    task = client._keepalive
    print("keep-alive finished when close returned:", task.done())
    print("workers finished when close returned:", all(w.done() for w in client._workers))
    seen = len(pings)
    await asyncio.sleep(0.05)
    print("keep-alive pinged after close:", len(pings) > seen)
    print("second close:", await client.close())


asyncio.run(main())
"""

SYNC_CLIENT = """
import asyncio

pings = []


class Client:
    def connect(self):
        self._keepalive = asyncio.ensure_future(self._ping_forever())

    async def _ping_forever(self):
        while True:
            pings.append("ping")
            await asyncio.sleep(0.01)

    def close(self):
        print("closing")


async def main():
    Client().close()
    client = Client()
    client.connect()
    await asyncio.sleep(0.035)
    client.close()
    task = client._keepalive
    await asyncio.sleep(0)
    print("keep-alive cancelled one step after close:", task.cancelled())
    seen = len(pings)
    await asyncio.sleep(0.05)
    print("keep-alive pinged after close:", len(pings) > seen)


asyncio.run(main())
"""


@pytest.mark.parametrize("python", PYTHONS)
def test_async_close_stops_the_keepalive_and_workers(python):
    before, after, fixed = before_after(ASYNC_CLIENT, "--unsafe-fixes", python=python)
    assert 'await _cancel_owned(getattr(self, "_keepalive", None), getattr(self, "_workers", None))' in fixed
    assert before.returncode == after.returncode == 0, after.stderr
    assert before.lines == [
        "close before connect: closed",
        "first close: closed",
        "keep-alive finished when close returned: False",
        "workers finished when close returned: False",
        "keep-alive pinged after close: True",
        "second close: already closed",
    ]
    assert after.lines == [
        "close before connect: closed",
        "first close: closed",
        "keep-alive finished when close returned: True",
        "workers finished when close returned: True",
        "keep-alive pinged after close: False",
        "second close: already closed",
    ]
    assert after.stderr == ""


@pytest.mark.parametrize("python", PYTHONS)
def test_sync_close_cancels_the_keepalive(python):
    before, after, fixed = before_after(SYNC_CLIENT, "--unsafe-fixes", python=python)
    assert '_cancel_owned_nowait(getattr(self, "_keepalive", None))' in fixed
    assert before.returncode == after.returncode == 0, after.stderr
    assert before.lines == [
        "closing",
        "closing",
        "keep-alive cancelled one step after close: False",
        "keep-alive pinged after close: True",
    ]
    assert after.lines == [
        "closing",
        "closing",
        "keep-alive cancelled one step after close: True",
        "keep-alive pinged after close: False",
    ]
    assert after.stderr == ""


def test_default_fix_leaves_the_client_alone():
    from behaviour import fix_source

    import textwrap

    source = textwrap.dedent(ASYNC_CLIENT)
    assert fix_source(source) == source


def test_cancel_aimed_at_the_caller_while_close_waits_is_not_swallowed():
    """The keep-alive takes a while to clean up; the code calling close() is cancelled
    meanwhile: that cancellation must reach it, and the keep-alive still finishes."""
    program = """
    import asyncio

    events = []


    class Client:
        async def connect(self):
            self._keepalive = asyncio.create_task(self._ping_forever())

        async def _ping_forever(self):
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(0.1)  # slow cleanup
                events.append("keep-alive cleaned up")
                raise

        async def aclose(self):
            events.append("aclose returned")


    async def main():
        client = Client()
        await client.connect()
        await asyncio.sleep(0)
        closer = asyncio.create_task(client.aclose())
        await asyncio.sleep(0.02)
        closer.cancel()
        try:
            await closer
            print("closer: finished")
        except asyncio.CancelledError:
            print("closer: cancelled")
        await asyncio.sleep(0.2)
        print(events, client._keepalive.done())


    asyncio.run(main())
    """
    before, after, _ = before_after(program, "--unsafe-fixes")
    assert before.lines == ["closer: finished", "['aclose returned'] False"]
    assert after.lines == ["closer: cancelled", "['aclose returned', 'keep-alive cleaned up'] True"]


def test_task_that_already_failed_keeps_its_never_retrieved_report():
    program = """
    import asyncio
    import gc


    class Client:
        async def connect(self):
            self._keepalive = asyncio.create_task(self._ping())

        async def _ping(self):
            raise ConnectionResetError("server went away")

        async def close(self):
            print("closed")


    async def main():
        client = Client()
        await client.connect()
        await asyncio.sleep(0.01)
        await client.close()
        del client
        gc.collect()
        await asyncio.sleep(0.01)
        print("done")


    asyncio.run(main())
    """
    before, after, fixed = before_after(program, "--unsafe-fixes")
    assert "_cancel_owned(" in fixed
    assert before.lines == after.lines == ["closed", "done"]
    for run in (before, after):
        assert "Task exception was never retrieved" in run.stderr
        assert "ConnectionResetError: server went away" in run.stderr


def test_close_called_by_the_owned_task_itself_completes():
    """A keep-alive that notices the connection died and closes its owner must not be
    cancelled by that close (it would abort close() half-way)."""
    program = """
    import asyncio


    class Client:
        async def connect(self):
            self._keepalive = asyncio.create_task(self._watch())

        async def _watch(self):
            await asyncio.sleep(0.01)  # the connection dies
            await self.close()
            print("watcher: close returned")
            return "watcher done"

        async def close(self):
            await asyncio.sleep(0)
            print("close: finished")


    async def main():
        client = Client()
        await client.connect()
        await asyncio.sleep(0.05)
        print(client._keepalive.result())


    asyncio.run(main())
    """
    before, after, fixed = before_after(program, "--unsafe-fixes")
    assert "_cancel_owned(" in fixed
    assert before.lines == after.lines == ["close: finished", "watcher: close returned", "watcher done"]


def test_graceful_shutdown_in_close_still_completes():
    """close() asks the worker to drain the queue and waits for it: the cancel must come after
    that (in `finally`), or the worker would be cut short and queue.join() would never return."""
    program = """
    import asyncio

    done = []


    class Pipeline:
        def __init__(self):
            self._queue = asyncio.Queue()

        async def start(self):
            self._worker = asyncio.create_task(self._drain())

        async def _drain(self):
            while True:
                item = await self._queue.get()
                if item is not None:
                    await asyncio.sleep(0.01)
                    done.append(item)
                self._queue.task_done()

        def submit(self, item):
            self._queue.put_nowait(item)

        async def close(self):
            self._queue.put_nowait(None)
            await asyncio.wait_for(self._queue.join(), 5)
            print("drained:", done)


    async def main():
        pipeline = Pipeline()
        await pipeline.start()
        for item in range(3):
            pipeline.submit(item)
        await pipeline.close()
        await asyncio.sleep(0.01)
        print("worker still running:", not pipeline._worker.done())


    asyncio.run(main())
    """
    before, after, fixed = before_after(program, "--unsafe-fixes")
    assert "finally:\n            await _cancel_owned(" in fixed
    assert before.returncode == after.returncode == 0, after.stderr
    assert before.lines == ["drained: [0, 1, 2]", "worker still running: True"]
    assert after.lines == ["drained: [0, 1, 2]", "worker still running: False"]


def test_close_that_returns_early_or_raises_still_cancels_and_raises_the_same_error():
    program = """
    import asyncio


    class Client:
        def __init__(self, broken):
            self.broken = broken

        async def connect(self):
            self._keepalive = asyncio.create_task(asyncio.sleep(3600))

        async def close(self):
            if self.broken:
                raise ConnectionError("socket already closed")
            return "closed"


    async def main():
        for broken in (False, True):
            client = Client(broken)
            await client.connect()
            try:
                print("close:", await client.close())
            except ConnectionError as exc:
                print("close raised:", type(exc).__name__, exc)
            print("keep-alive running:", not client._keepalive.done())


    asyncio.run(main())
    """
    before, after, _ = before_after(program, "--unsafe-fixes")
    assert before.lines == [
        "close: closed",
        "keep-alive running: True",
        "close raised: ConnectionError socket already closed",
        "keep-alive running: True",
    ]
    assert after.lines == [
        "close: closed",
        "keep-alive running: False",
        "close raised: ConnectionError socket already closed",
        "keep-alive running: False",
    ]
