"""The cancel_owned helpers run on whatever a class stored: single tasks, None, sets, lists,
dicts and other mappings (their values are the tasks), already finished tasks, and the task
that is running close() itself."""

from __future__ import annotations

import asyncio
import weakref

from tether import helpers


def load(kind: str):
    source, name = helpers.render_helper(helpers.TEMPLATES[kind], set(), "asyncio")
    namespace = {"asyncio": asyncio}
    exec(compile(source, f"<{kind}>", "exec"), namespace)
    return namespace[name]


def test_cancel_owned_cancels_and_waits_for_every_kind_of_container():
    cancel_owned = load("cancel_owned")

    async def main():
        forever = lambda: asyncio.sleep(3600)  # noqa: E731
        single = asyncio.create_task(forever())
        in_set = {asyncio.create_task(forever())}
        in_list = [asyncio.create_task(forever()), None]
        in_dict = {"a": asyncio.create_task(forever())}
        weak_values = weakref.WeakValueDictionary(b=asyncio.create_task(forever()))
        finished = asyncio.create_task(asyncio.sleep(0))
        await asyncio.sleep(0.01)
        everything = [single, *in_set, in_list[0], in_dict["a"], weak_values["b"]]
        await cancel_owned(single, None, in_set, in_list, in_dict, weak_values, finished)
        assert all(task.cancelled() for task in everything)
        assert finished.done() and not finished.cancelled()
        assert in_list[1] is None and len(in_set) == 1  # containers are left as they were

    asyncio.run(main())


def test_cancel_owned_skips_the_task_running_it():
    cancel_owned = load("cancel_owned")

    async def main():
        other = asyncio.create_task(asyncio.sleep(3600))

        async def closes_its_owner():
            await cancel_owned(asyncio.current_task(), other)
            return "finished close"

        me = asyncio.create_task(closes_its_owner())
        assert await me == "finished close"
        assert other.cancelled()

    asyncio.run(main())


def test_cancel_owned_nowait_only_requests_the_cancel_and_works_without_a_loop():
    cancel_owned_nowait = load("cancel_owned_nowait")

    async def main():
        task = asyncio.create_task(asyncio.sleep(3600))
        await asyncio.sleep(0)
        cancel_owned_nowait({"t": task})
        assert not task.done()
        await asyncio.sleep(0)
        assert task.cancelled()
        return asyncio.create_task(asyncio.sleep(3600))

    loop = asyncio.new_event_loop()
    leftover = loop.run_until_complete(main())
    loop.close()
    cancel_owned_nowait(leftover, None)  # no running loop, and the task's loop is closed
    assert not leftover.done()
