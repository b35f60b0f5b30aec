"""Program generators and the invariant every run of tether must keep, for the fuzz tests
(tests/test_fuzz.py, a few hundred examples) and the long run (bench/fuzz_long.py).

Two sources of programs:

* hypothesmith's grammar-based programs: odd syntax nobody writes by hand. They almost never
  mention asyncio, so each is also tried with an asyncio snippet appended, which makes the
  fix insert its helper and ``import asyncio`` into strange module layouts.
* ``asyncio_programs()``: programs shaped like real asyncio code, where the trigger names
  (create_task, ensure_future, gather, wait, as_completed, TaskGroup) appear in many syntactic
  positions: statements, bindings, nested functions, lambdas, comprehensions, decorators,
  walrus, match, async with/for, try/except*, strings, comments, CRLF and tab indentation.

``assert_invariants`` states the contract of SPEC section 2/6 for any program that compiles:
no crash or internal error, every rewrite compiles, a second fix changes nothing, and a file
without a fix stays byte-identical. It goes through ``process_data`` (the path the CLI uses
for every file), so it covers all rules registered in tether/registry.py, present and future.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

from hypothesis import strategies as st

from tether.config import Settings
from tether.engine import process_data, trigger_tokens

VARIANTS = {
    "check/diff/fix (safe)": Settings(),
    "--unsafe-fixes": Settings(unsafe_fixes=True),
    "--unsafe-fixes --style taskgroup": Settings(unsafe_fixes=True, style="taskgroup"),
    "--unsafe-fixes --target-version py38": Settings(unsafe_fixes=True, target_version=(3, 8)),
}


def compiles(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # generated code is full of "perhaps you missed a comma?"
            compile(text, "<fuzz>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


@dataclass
class Outcome:
    findings: int = 0
    changed: bool = False


def assert_invariants(text: str, newline_bytes: bytes | None = None) -> Outcome:
    """Run check, diff and fix under every option set in VARIANTS; raise AssertionError."""
    data = newline_bytes if newline_bytes is not None else text.encode("utf-8")
    outcome = Outcome()
    for label, settings in VARIANTS.items():
        tokens = trigger_tokens(settings)
        checked, _ = process_data(data, "fuzz.py", settings, "check", tokens)
        assert checked.error is None, f"{label}: check: {checked.error}"
        outcome.findings = max(outcome.findings, len(checked.findings))
        for mode in ("diff", "fix"):
            result, source = process_data(data, "fuzz.py", settings, mode, tokens)
            assert result.error is None, f"{label}: {mode}: {result.error}"
            if result.new_text is None:  # prefilter rejected the file: nothing to rewrite
                assert not checked.findings, f"{label}: {mode} skipped a file with findings"
                continue
            assert {(f.code, f.line, f.col) for f in result.findings} == {
                (f.code, f.line, f.col) for f in checked.findings
            }, f"{label}: {mode} and check disagree"
            if result.new_text == result.old_text:
                assert not result.applied, f"{label}: fixes reported applied but nothing changed"
                continue
            outcome.changed = True
            assert result.applied, f"{label}: text changed without an applied fix"
            new_data = source.encode(result.new_text)
            assert compiles(result.new_text), f"{label}: the fixed file does not compile:\n{result.new_text}"
            again, _ = process_data(new_data, "fuzz.py", settings, "fix", tokens)
            assert again.error is None, f"{label}: second fix: {again.error}"
            assert again.new_text is None or again.new_text == result.new_text, (
                f"{label}: not idempotent: a second fix changed\n{result.new_text}"
            )
        if not checked.findings:
            # byte-identical: no finding means diff/fix produce nothing at all
            fixed, _ = process_data(data, "fuzz.py", settings, "fix", tokens)
            assert fixed.new_text is None or fixed.new_text == fixed.old_text, f"{label}: changed a file without findings"
    return outcome


# --- hypothesmith --------------------------------------------------------------------------

SNIPPETS = (
    "import asyncio\n\n\nasync def _fuzz_spawn():\n    asyncio.create_task(_fuzz_work())\n",
    "import asyncio\n\n\nasync def _fuzz_gather():\n    await asyncio.gather(_fuzz_a(), _fuzz_b())\n",
    "import asyncio as _aio\n\n\nasync def _fuzz_bound():\n    t = _aio.ensure_future(_fuzz_work())\n",
)


def hypothesmith_programs():
    """(text, with_snippet) pairs: a grammar-generated module, optionally with asyncio code."""
    import hypothesmith

    return st.tuples(hypothesmith.from_grammar(), st.sampled_from((None, *SNIPPETS)))


def with_snippet(program: str, snippet: str | None) -> str:
    if snippet is None:
        return program
    if program and not program.endswith(("\n", "\r")):
        program += "\n"
    return program + snippet


# --- asyncio-shaped programs ---------------------------------------------------------------

IMPORTS = st.sampled_from(
    [
        ("import asyncio\n", "asyncio."),
        ("import asyncio as aio\n", "aio."),
        ("from asyncio import create_task, ensure_future, gather, wait, as_completed, Task, TaskGroup\nimport asyncio\n", ""),
        ("import asyncio\nfrom asyncio import create_task as spawn\n", "asyncio."),
    ]
)

SPAWN_TEMPLATES = [
    "{a}create_task({coro})",
    "{a}ensure_future({coro})",
    "{a}get_running_loop().create_task({coro})",
    "loop.create_task({coro})",
    "{a}Task({coro})",
    "{a}gather({coro}, {coro2})",
    "{a}gather(*[{coro} for _ in range(3)])",
    "{a}gather({coro}, {coro2}, return_exceptions=True)",
    "{a}wait([{a}ensure_future({coro})], return_when={a}FIRST_COMPLETED)",
    "{a}wait({{{a}create_task({coro})}}, timeout=1)",
    "{a}shield({coro})",
    "tg.create_task({coro})",
]

COROS = st.sampled_from(["work()", "work(1, x=2)", "self.run()", "job(i)", "fetch(url)", "heartbeat()", "asyncio.sleep(0)"])

# {e}: a spawn expression; {i}: one indentation level; statements are single logical lines or
# small blocks, all relative to the body they are put in.
STATEMENT_TEMPLATES = [
    "{e}",
    "_ = {e}",
    "t = {e}",
    "t = {e}\n{i}await t",
    "t = {e}\n{i}t.cancel()",
    "t = {e}\n{i}await other()\n{i}await t",
    "tasks = []\n{i}tasks.append({e})",
    "tasks = []\n{i}tasks.append({e})\n{i}await {a}gather(*tasks)",
    "return {e}",
    "await {e}",
    "x = await {e}",
    "a, b = await {e}",
    "results = [await c for c in [{e}]]",
    "fs = [{e} for i in range(3)]",
    "fs = {{i: {e} for i in range(3)}}",
    "callback = lambda: {e}",
    "if (t := {e}):\n{i}{i}pass",
    "match mode:\n{i}{i}case 1:\n{i}{i}{i}{e}\n{i}{i}case _:\n{i}{i}{i}pass",
    "async with ctx() as c:\n{i}{i}{e}\n{i}{i}await c",
    "async for item in stream():\n{i}{i}{e}",
    "try:\n{i}{i}{e}\n{i}except* ValueError:\n{i}{i}pass",
    "try:\n{i}{i}await {e}\n{i}except Exception:\n{i}{i}raise\n{i}finally:\n{i}{i}await cleanup()",
    "with suppress(Exception):\n{i}{i}{e}",
    "self.task = {e}",
    "self.tasks.add({e})",
    "BACKGROUND.add({e})",
    "registry[key] = {e}",
    "consume({e})",
    "print('{a}create_task(work())', \"gather(\")",
    "# {a}create_task(work()) in a comment",
    "'''{a}ensure_future(x)\n{i}as_completed(y)'''",
    "for fut in {a}as_completed([{coro}, {coro2}]):\n{i}{i}await fut",
    "for fut in {a}as_completed([{coro}, {coro2}]):\n{i}{i}if await fut:\n{i}{i}{i}break",
    "done, pending = await {a}wait([{a}ensure_future({coro})], return_when={a}FIRST_COMPLETED)",
    "async with {a}TaskGroup() as tg:\n{i}{i}tg.create_task({coro})",
    "def inner():\n{i}{i}return {e}",
    "async def inner():\n{i}{i}{e}\n{i}await inner()",
    "@decorate({e})\n{i}def decorated():\n{i}{i}pass",
    "yield {e}",
    "global G\n{i}G = {e}",
    "nonlocal_holder = [None]\n{i}nonlocal_holder[0] = {e}",
    "await asyncio.sleep(0)",
    "x = 1 if {e} else 2",
    "del t",
]

FUNCTION_HEADERS = [
    ("async def handler(self, key, mode, url):\n", 1),
    ("def sync_callback(loop):\n", 1),
    ("async def outer():\n{i}async def nested():\n", 2),
    ("class Service:\n{i}async def start(self, key, mode):\n", 2),
    ("async def agen():\n", 1),
]


@st.composite
def asyncio_programs(draw) -> tuple[str, bytes]:
    """(text, raw bytes) of a module that compiles on this Python; newlines LF or CRLF."""
    header, prefix = draw(IMPORTS)
    indent = draw(st.sampled_from(["    ", "  ", "\t"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    parts = [header]
    for _ in range(draw(st.integers(1, 3))):
        function, depth = draw(st.sampled_from(FUNCTION_HEADERS))
        body_indent = indent * depth
        lines = []
        for _ in range(draw(st.integers(1, 4))):
            template = draw(st.sampled_from(STATEMENT_TEMPLATES))
            spawn = draw(st.sampled_from(SPAWN_TEMPLATES))
            expression = spawn.format(a=prefix, coro=draw(COROS), coro2=draw(COROS))
            statement = template.format(e=expression, a=prefix, i=indent, coro=draw(COROS), coro2=draw(COROS))
            # continuation lines of a template are relative to the body: re-indent them
            statement = statement.replace("\n", "\n" + indent * (depth - 1))
            lines.append(body_indent + statement)
        if draw(st.booleans()):
            lines.append(body_indent + "await asyncio.sleep(0)" if function.startswith("async") else body_indent + "pass")
        parts.append("\n\n" + function.format(i=indent) + "\n".join(lines) + "\n")
    text = "".join(parts)
    if not text.endswith("\n"):
        text += "\n"
    if newline != "\n":
        text = text.replace("\n", newline)
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no newline at the end of the file
    return text, text.encode("utf-8")


def program_is_valid(text: str) -> bool:
    """The generator can build code Python rejects (yield in a comprehension, return with a
    value in an async generator, ...); only programs that compile are meaningful."""
    if not compiles(text):
        return False
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True
