"""The recording file: YAML that reads back exactly as written whatever the text, items appended whole to an
existing file without touching what is there (comments included), files that cannot be appended to refused with
the reason, and redaction that finds a key streamed in pieces."""

from __future__ import annotations

import asyncio
import random
import re
import time
from pathlib import Path

import pytest
import yaml

from mockserver.record import emit
from mockserver.record.recorder import exact
from mockserver.record.redact import MARK, Redactor, secret_header
from mockserver.record.scenario_file import HEADER, FileRefused, ScenarioFile, inspect
from mockserver.scenario.load import load_paths

HOSTILE = [
    "",
    " ",
    "yes",
    "No",
    "null",
    "~",
    "- x",
    "a: b",
    "a #b",
    "1.5",
    "2024-01-01",
    "x\n",
    "\t",
    "'",
    '"',
    "\\d+",
    "é 😀",
    "\u2028",
    "\x85",
    "\x7f",
    "\ufeff",
    "\x00",
    "{a}",
    "[x]",
    "a,b",
    "&a",
    "*a",
    "!x",
    "%x",
    "@x",
    "`x",
    "|",
    "? x",
    "a ",
    "<<",
    ".inf",
]


def read_back(text: str) -> object:
    return yaml.safe_load(f"k: {{a: [{emit.text(text)}]}}\n")["k"]["a"][0]


@pytest.mark.parametrize("text", HOSTILE)
def test_text_reads_back_exactly(text: str) -> None:
    assert read_back(text) == text
    assert yaml.safe_load(f"k: {emit.text(text)}\n")["k"] == text


def test_random_text_reads_back_exactly() -> None:
    rng = random.Random(7)
    alphabet = [chr(code) for code in (*range(0x250), 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF, 0x1F600)]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        assert read_back(text) == text, repr(text)


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    assert read_back("a\ud800b") == "a\ufffdb"


def test_numbers_read_back_as_numbers() -> None:
    for value in (0.1, 1e-06, -2.5e-10, 12.5, 1e20, 3.0, 7):
        assert yaml.safe_load(f"x: {emit.number(value)}")["x"] == value
    assert emit.float32(0.0022786001) == 0.0022786001
    assert emit.float32(0.1) == 0.1  # the shortest text of the float32, not 0.10000000149011612


def test_an_item_is_readable_yaml() -> None:
    data = {
        "name": "a",
        "match": {"model": "gpt-4o", "regex": exact("What is 2+2?")},
        "chunks": emit.Lines(["Hi", emit.Flow(content=" there", delay_ms=12.5)]),
        "usage": emit.Flow(prompt_tokens=3),
    }
    assert emit.item(data, 2) == (
        "  - name: a\n"
        "    match: {model: gpt-4o, regex: '^What is 2\\+2\\?$'}\n"
        "    chunks:\n"
        "      - Hi\n"
        '      - {content: " there", delay_ms: 12.5}\n'
        "    usage: {prompt_tokens: 3}\n"
    )
    assert re.search(exact("What is 2+2?"), "What is 2+2?") and not re.search(exact("hi"), "hi there")


def write(path: Path, items: list[str], layout_path: Path | None = None) -> None:
    layout, _ = inspect(layout_path or path)
    target = ScenarioFile(path, layout)
    target.write_now(items)
    target.close_now()


def test_a_new_file_gets_the_header_with_its_first_scenario(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    write(path, [emit.item({"name": "a", "text": "x"}, 2)])
    assert path.read_text() == HEADER + "  - name: a\n    text: x\n"
    write(path, [emit.item({"name": "b", "text": "y"}, 2)])
    assert [s.name for s in load_paths([path]).scenarios] == ["a", "b"]


@pytest.mark.parametrize("indent", [0, 2, 4])
def test_an_existing_file_is_appended_to_as_written(tmp_path: Path, indent: int) -> None:
    pad = " " * indent
    original = f"# my scenarios\nversion: 1\nscenarios:\n{pad}- name: first  # kept\n{pad}  text: hi\n\n# the end\n"
    path = tmp_path / "mine.yaml"
    path.write_text(original)
    layout, scenarios = inspect(path)
    assert layout.indent == indent and [s.name for s in scenarios] == ["first"]
    write(path, [emit.item({"name": "second", "text": "yo"}, indent)])
    assert path.read_text().startswith(original)
    assert [s.name for s in load_paths([path]).scenarios] == ["first", "second"]


def test_a_file_without_a_final_line_break_gets_one(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("scenarios:\n  - {name: first, text: hi}")
    write(path, [emit.item({"name": "second", "text": "yo"}, 2)])
    assert [s.name for s in load_paths([path]).scenarios] == ["first", "second"]


def test_an_empty_file_is_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# recordings go here\n")
    write(path, [emit.item({"name": "a", "text": "x"}, 2)])
    assert path.read_text() == "# recordings go here\n" + HEADER + "  - name: a\n    text: x\n"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("scenarios: []\n", "block style"),
        ("scenarios:\n  - {name: a, text: x}\nversion: 1\n", "must come last"),
        ("scenarios:\n  - {name: a, text: x}\n...\n", "must come last"),
        ("scenarios:\n  - {name: a, txt: x}\n", "does not load"),
    ],
)
def test_a_file_that_cannot_be_appended_to_is_refused(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "file.yaml"
    path.write_text(text)
    with pytest.raises(FileRefused, match=reason):
        inspect(path)
    assert path.read_text() == text


async def test_queued_scenarios_are_written_whole_in_order(tmp_path: Path) -> None:
    path = tmp_path / "queued.yaml"
    target = ScenarioFile(path, inspect(path)[0])
    for index in range(50):
        target.append(emit.item({"name": f"s{index}", "text": "x" * index}, 2))
        if index % 7 == 0:
            await asyncio.sleep(0)
    await target.close()
    assert [s.name for s in load_paths([path]).scenarios] == [f"s{index}" for index in range(50)]


def test_credential_headers() -> None:
    for name in ("Authorization", "OpenAI-Organization", "OpenAI-Project", "Cookie", "Set-Cookie", "api-key"):
        assert secret_header(name)
    assert secret_header("x-goog-api-key") and secret_header("X-Auth-Token")
    assert not secret_header("x-ratelimit-remaining-tokens") and not secret_header("retry-after")


def test_default_shapes_are_redacted() -> None:
    redact = Redactor()
    for secret in (
        "sk-proj-" + "a1B2" * 20,
        "sk-" + "A" * 20 + "T3BlbkFJ" + "b" * 20,
        "sk-abc*********************wxyz",  # as a 401 quotes a key
        "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
        "org-" + "x" * 24,
        "proj_" + "Y" * 24,
    ):
        assert secret not in redact(f"before {secret} after")
        assert MARK in redact(f"before {secret} after")
    assert redact("a task-manager and sk-learn stay") == "a task-manager and sk-learn stay"


def test_a_key_streamed_in_pieces_is_found_whole() -> None:
    redact = Redactor(["ACME-\\d+"])
    pieces = ["My key is sk-pr", "oj-abcdefghijklmn", "opqrstuvwxyz and ACME-1", "23 ok"]
    assert redact.pieces(pieces) == ["My key is " + MARK, "", " and " + MARK, " ok"]
    assert redact.pieces(["nothing", " here"]) == ["nothing", " here"]


def test_a_file_s_folder_is_made_if_need_be(tmp_path: Path) -> None:
    # The documented `--out tests/fixtures/openai.yaml` was refused in a project without that folder.
    assert inspect(tmp_path / "tests" / "fixtures" / "out.yaml")[1] == []
    assert (tmp_path / "tests" / "fixtures").is_dir()
    (tmp_path / "plain").write_text("")
    with pytest.raises(FileRefused, match="cannot make the folder"):
        inspect(tmp_path / "plain" / "out.yaml")


def test_a_long_line_read_in_many_pieces_costs_its_length_not_its_square() -> None:
    """The line not complete yet was copied at each read: a 60 MB line took 6.4 s and held the server meanwhile."""
    from mockserver.record.sse import SseReader

    reader = SseReader()
    piece = b"x" * 16 * 1024
    started = time.perf_counter()
    assert reader.feed(b"data: ", 0) == []
    for _ in range(2000):  # 32 MB
        assert reader.feed(piece, 0) == []
    (event,) = reader.feed(b"\n\n", 1.0)
    assert len(event.data) == 2000 * len(piece) and event.at == 1.0
    assert time.perf_counter() - started < 2  # copied again at each read, it takes tens of seconds
