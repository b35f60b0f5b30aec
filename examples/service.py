"""A small asyncio service with the orphaned-task shapes tether fixes (the README's demo)."""

import asyncio


async def audit(event):
    await asyncio.sleep(0.1)
    print("audited", event)


async def handle(event):
    # Fire-and-forget: nothing references the task, so it can be garbage-collected mid-flight.
    asyncio.create_task(audit(event))
    return event.upper()


async def main():
    print(await handle("login"))
    await asyncio.sleep(0.2)


if __name__ == "__main__":
    asyncio.run(main())
