"""The parameter table in the package is what tools/api_table.py makes of the official OpenAPI document: after
an API change, run the script again and commit its output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import ROOT

from mockserver.wire import api_table


def test_the_committed_table_is_what_the_script_makes() -> None:
    path = os.environ.get("OPENAI_OPENAPI_SPEC")
    if not path or not Path(path).is_file():
        pytest.skip("OPENAI_OPENAPI_SPEC does not name the official openapi.json")
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from api_table import render
    finally:
        sys.path.pop(0)
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    assert render(spec) == (ROOT / "mockserver" / "wire" / "api_table.py").read_text(encoding="utf-8")


def test_the_table_knows_the_parameters_the_checks_rely_on() -> None:
    assert api_table.CHAT["temperature"].maximum == 2
    assert api_table.CHAT["stop"].max_items == 4
    assert api_table.RESPONSES["max_output_tokens"].minimum == 16
    assert api_table.CHAT_REQUIRED == ("model", "messages")
    assert {"stream_options.include_usage", "stream_options.include_obfuscation"} <= set(api_table.CHAT)
    assert "stream_options.include_usage" not in api_table.RESPONSES
