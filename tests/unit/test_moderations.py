"""POST /v1/moderations: the real shapes of omni and text-moderation models, text and multi-modal input, nothing
flagged unless scripted, scripted flags and scores, scores written as the real API writes them, the real 400s,
and no rate-limit headers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from helpers import problems, validate_openapi, validate_sdk
from openai.types import ModerationCreateResponse

from mockserver.scenario.endpoints import MODERATION_CATEGORIES
from mockserver.scenario.quota import parse as parse_quota
from mockserver.wire.moderations import LEGACY_CATEGORIES, score_text

SCENARIOS = """
scenarios:
  - name: default
    text: "Hello"
  - name: violent
    match: {contains: "fight"}
    moderation:
      flagged: [violence]
      scores: {violence: 0.93, harassment: 0.4}
  - name: second-only
    moderation:
      - {}
      - {flagged: [self-harm/intent, illicit]}
"""
OMNI = "omni-moderation-latest"


async def moderate(client: Any, expect: int = 200, **body: Any) -> tuple[Any, Any]:
    response = await client.post("/v1/moderations", json=body)
    raw = await response.read()
    assert response.status == expect, raw
    return response, raw


async def test_omni_models_answer_with_13_categories_in_the_real_order(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    response, raw = await moderate(client, model=OMNI, input="Have a great day!")
    body = json.loads(raw)
    assert list(body) == ["id", "model", "results"]
    assert re.fullmatch(r"modr-[0-9a-f]{32}", body["id"])
    assert body["model"] == OMNI
    (result,) = body["results"]
    assert list(result) == ["flagged", "categories", "category_scores", "category_applied_input_types"]
    assert result["flagged"] is False
    assert list(result["categories"]) == list(result["category_scores"]) == list(MODERATION_CATEGORIES)
    assert MODERATION_CATEGORIES[:3] == ("harassment", "harassment/threatening", "sexual")
    assert not any(result["categories"].values())
    assert all(0 < score < 0.01 for score in result["category_scores"].values())
    assert all(types == ["text"] for types in result["category_applied_input_types"].values())
    assert raw.startswith(b'{\n  "id": "modr-') and b'"harassment": [\n          "text"\n        ],' in raw
    assert not raw.endswith(b"\n")
    assert "x-ratelimit-limit-requests" not in response.headers and "openai-model" not in response.headers
    assert response.headers["Content-Type"] == "application/json"
    _, again = await moderate(client, model=OMNI, input="Have a great day!")
    assert json.loads(again)["results"] == body["results"]  # the made-up scores are the same every time


async def test_without_a_model_the_text_moderation_shape(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    for model in (None, "text-moderation-latest", "text-moderation-stable"):
        _, raw = await moderate(client, input=["one", "two"], **({"model": model} if model else {}))
        body = json.loads(raw)
        assert re.fullmatch(r"modr-[0-9A-Za-z]{29}", body["id"])
        assert body["model"] == "text-moderation-007"
        assert len(body["results"]) == 2
        assert list(body["results"][0]) == ["flagged", "categories", "category_scores"]
        assert list(body["results"][0]["categories"]) == list(LEGACY_CATEGORIES)
        assert "illicit" not in body["results"][0]["categories"]


async def test_text_and_images_together_and_alone(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    _, raw = await moderate(client, model=OMNI, input=[{"type": "text", "text": "a picture"}, image])
    (result,) = json.loads(raw)["results"]
    applied = result["category_applied_input_types"]
    assert applied["violence"] == applied["sexual"] == ["text", "image"]
    assert applied["harassment"] == applied["illicit"] == ["text"]
    _, raw = await moderate(client, model=OMNI, input=[image])
    (result,) = json.loads(raw)["results"]
    assert result["category_applied_input_types"]["self-harm"] == ["image"]
    assert result["category_applied_input_types"]["hate"] == []
    assert result["category_scores"]["hate"] == 0
    assert b'"hate": 0.0,' in raw


async def test_a_scenario_scripts_what_is_flagged(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    _, raw = await moderate(client, model=OMNI, input="I want to fight you")
    (result,) = json.loads(raw)["results"]
    assert result["flagged"] is True
    assert [name for name, flagged in result["categories"].items() if flagged] == ["violence"]
    assert result["category_scores"]["violence"] == 0.93
    assert result["category_scores"]["harassment"] == 0.4  # a high score need not flag
    _, raw = await moderate(client, model="second-only", input=["a", "b", "c"])
    results = json.loads(raw)["results"]
    assert [result["flagged"] for result in results] == [False, True, False]  # input i gets result i; they repeat
    assert 0.8 <= results[1]["category_scores"]["self-harm/intent"] < 1
    _, raw = await moderate(client, model="text-moderation-latest", input="fight", **{})
    assert json.loads(raw)["model"] == "text-moderation-007"


@pytest.mark.parametrize(
    ("score", "text"),
    [
        (2.212566909570261e-6, "2.212566909570261e-6"),
        (9.818326983657703e-7, "9.818326983657703e-7"),
        (0.000015598027633743823, "0.000015598027633743823"),
        (0.005284363395662242, "0.005284363395662242"),
        (0.93, "0.93"),
        (1.0, "1.0"),
        (0.0, "0.0"),
        (1e-7, "1e-7"),
    ],
)
def test_scores_are_written_as_the_real_api_writes_them(score: float, text: str) -> None:
    assert score_text(score) == text
    assert float(text) == score


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {},
            {"message": "Missing required parameter: 'input'.", "param": "input", "code": "missing_required_parameter"},
        ),
        (
            {"input": 5},
            {
                "message": "Invalid type for 'input': expected one of a string, an array of strings, or an array of objects, but got an integer instead.",
                "param": "input",
                "code": "invalid_type",
            },
        ),
        (
            {"input": []},
            {
                "message": "Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                "param": "input",
                "code": "empty_array",
            },
        ),
        (
            {"input": ["a"] * 2049},
            {
                "message": "Invalid 'input': array too long. Expected an array with maximum length 2048, but got an "
                "array with length 2049 instead.",
                "param": "input",
                "code": "array_above_max_length",
            },
        ),
        (
            {"input": [{"type": "video"}]},
            {
                "message": "Invalid value: \"video\". Supported values are: 'text' and 'image_url'.",
                "param": "input[0].type",
                "code": "invalid_value",
            },
        ),
        (
            {"input": [{"type": "text"}]},
            {
                "message": "Missing required parameter: 'input[0].text'.",
                "param": "input[0].text",
                "code": "missing_required_parameter",
            },
        ),
        (
            {"input": [{"type": "image_url", "image_url": {}}]},
            {
                "message": "Missing required parameter: 'input[0].image_url.url'.",
                "param": "input[0].image_url.url",
                "code": "missing_required_parameter",
            },
        ),
        (
            {"input": "x", "model": 4},
            {
                "message": "Invalid type for 'model': expected a string, but got an integer instead.",
                "param": "model",
                "code": "invalid_type",
            },
        ),
        (
            {"input": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            {
                "message": "Invalid 'input': text-moderation-latest moderates text only; images need an omni-moderation model.",
                "param": "input",
                "code": None,
            },
        ),
    ],
)
async def test_requests_the_real_api_refuses(client_for: Any, body: dict[str, Any], error: dict[str, Any]) -> None:
    client = await client_for(SCENARIOS, speed=0)
    response, raw = await moderate(client, 400, **body)
    assert json.loads(raw)["error"] == {"type": "invalid_request_error", **error}
    assert "x-ratelimit-limit-requests" not in response.headers


async def test_moderations_count_toward_no_quota(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0, rate_limit=parse_quota("requests=1/min"))
    for _ in range(3):
        response, _ = await moderate(client, input="x")
        assert "x-ratelimit-remaining-requests" not in response.headers
    response = await client.post(
        "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "x"}]}
    )
    assert response.headers["x-ratelimit-remaining-requests"] == "0"  # the first request that counts


def test_scripted_results_are_checked_at_load() -> None:
    assert problems("scenarios:\n  - name: s\n    moderation: {flagged: [violance]}\n") == [
        "s.yaml:3: unknown moderation category 'violance' in 'moderation' in scenario 's'; did you mean 'violence'?"
    ]
    assert problems("scenarios:\n  - name: s\n    moderation:\n      - scores: {hate: 2}\n") == [
        "s.yaml:4: the score of 'hate' in result 1 of 'moderation' in scenario 's' must be from 0 to 1"
    ]
    assert problems("scenarios:\n  - name: s\n    moderation: {flaged: [hate]}\n") == [
        "s.yaml:3: unknown key 'flaged' in 'moderation' in scenario 's'; did you mean 'flagged'?"
    ]
    assert problems("scenarios:\n  - name: s\n    moderation: {flagged: hate}\n") == [
        "s.yaml:3: 'flagged' in 'moderation' in scenario 's' must be a list of categories"
    ]


async def test_answers_match_the_openapi_document_and_the_sdk_models(client_for: Any) -> None:
    client = await client_for(SCENARIOS, speed=0)
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    for body in ({"input": "fight"}, {"input": [{"type": "text", "text": "hi"}, image]}):
        _, raw = await moderate(client, model=OMNI, **body)
        validate_openapi("CreateModerationResponse", json.loads(raw))
        validate_sdk(ModerationCreateResponse, json.loads(raw))
    # The text-moderation shape lacks what the SDK's model requires, as the real one does; the SDK builds its
    # objects leniently and takes it (tests/test_endpoints.py::test_moderations_create).
