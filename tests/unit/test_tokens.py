import random

import pytest

from mockserver.scenario.tokens import count_tokens, estimate_prompt_tokens, split_tokens


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("Hello, world!", ("Hello", ",", " world", "!")),
        ("a worm", ("a", " worm")),
        ("春眠不觉晓。", ("春", "眠", "不", "觉", "晓", "。")),
        ("one\n\n\ntwo", ("one", "\n\n\n", "two")),
        ("x\r\ny", ("x", "\r\n", "y")),
        ("ends with spaces  ", ("ends", " with", " spaces", "  ")),
        ("snake_case 2026", ("snake_case", " 2026")),
        ("", ()),
    ],
)
def test_split_into_token_sized_pieces(text: str, pieces: tuple[str, ...]) -> None:
    assert split_tokens(text) == pieces


def test_pieces_always_join_back_to_the_text() -> None:
    alphabet = "ab Z9_,.!?'\"\n\r\t -—…春眠。、😀é\u0301\u00a0\u2028"
    rng = random.Random(1)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert "".join(split_tokens(text)) == text


def test_prompt_estimate_follows_the_chat_formula() -> None:
    # 3 to prime the reply, then per message 3 + role + content (+ name + 1)
    messages = [{"role": "user", "content": "Say foo"}]
    assert estimate_prompt_tokens(messages) == 3 + 3 + count_tokens("user") + count_tokens("Say foo")
    named = [{"role": "user", "content": "hi", "name": "bob"}]
    assert estimate_prompt_tokens(named) == 3 + 3 + 1 + 1 + 1 + 1
    parts = [{"role": "user", "content": [{"type": "text", "text": "a b"}, {"type": "image_url", "image_url": {}}]}]
    assert estimate_prompt_tokens(parts) == 3 + 3 + 1 + 2
