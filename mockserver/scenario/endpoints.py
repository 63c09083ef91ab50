"""What a scenario scripts for the endpoints that do not stream — the vectors of `/v1/embeddings`, the results of
`/v1/moderations` — and their checks. Without a script, those endpoints compute their answers from the input."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .checks import Checks
from .marked_yaml import line_of
from .problems import hint, kind_of, short

# The moderation categories, in the order the real API sends them (omni-moderation models).
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "sexual",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm/intent",
    "self-harm/instructions",
    "self-harm",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_MODERATION_KEYS = ("flagged", "scores")
# The largest finite float32: embeddings leave as float32, so a scripted value must fit in one.
FLOAT32_MAX = 3.4028234663852886e38

Vector = tuple[float, ...]


@dataclass(frozen=True)
class ModerationScript:
    """The result scripted for one input: the categories flagged, and scores in place of the made-up ones."""

    flagged: tuple[str, ...] = ()
    scores: tuple[tuple[str, float], ...] = ()


class EndpointChecks(Checks):
    """`embeddings:` and `moderation:` of an answer."""

    def embeddings(self, data: Mapping[str, Any], where: str) -> tuple[Vector, ...] | None:
        """One vector (a list of numbers) for every input, or a list of vectors: input i gets vector i, and
        they repeat."""
        value = data["embeddings"]
        line = line_of(data, "embeddings")
        expected = f"'embeddings' in {where} must be a vector (a list of numbers) or a list of vectors"
        if not isinstance(value, list) or not value:
            self.fail(line, f"{expected}, got {kind_of(value)} {short(value)}")
            return None
        flat = not all(isinstance(item, list) for item in value)
        vectors = []
        for index, vector in enumerate([value] if flat else value):
            vector_where = f"'embeddings' in {where}" if flat else f"vector {index + 1} of 'embeddings' in {where}"
            vector_line = line if flat else line_of(value, index) or line
            if not vector:
                self.fail(vector_line, f"{vector_where} is empty")
                return None
            bad = [item for item in vector if not _finite(item)]
            if bad:
                self.fail(vector_line, f"{vector_where} must hold numbers only, got {kind_of(bad[0])} {short(bad[0])}"
                          + _exponent_hint(bad[0]))  # fmt: skip
                return None
            huge = [item for item in vector if abs(item) > FLOAT32_MAX]
            if huge:
                self.fail(vector_line, f"{vector_where} holds {short(huge[0])}, beyond the largest float32 (3.4e+38): "
                          "the API sends embeddings as float32 values")  # fmt: skip
                return None
            vectors.append(tuple(float(item) for item in vector))
        return tuple(vectors)

    def moderation(self, data: Mapping[str, Any], where: str) -> tuple[ModerationScript, ...] | None:
        """One result for every input, or a list of them: input i gets result i, and they repeat."""
        value = data["moderation"]
        line = line_of(data, "moderation")
        where = f"'moderation' in {where}"
        if isinstance(value, list) and value:
            results = [self._moderation_result(item, line_of(value, index) or line, f"result {index + 1} of {where}")
                       for index, item in enumerate(value)]  # fmt: skip
        else:
            results = [self._moderation_result(value, line, where)]
        if any(result is None for result in results):
            return None
        return tuple(result for result in results if result is not None)

    def _moderation_result(self, value: Any, line: int, where: str) -> ModerationScript | None:
        spec = self.mapping(value, line, where)
        if spec is None or not self.keys(spec, _MODERATION_KEYS, where):
            return None
        flagged: list[str] = []
        if "flagged" in spec:
            names = spec["flagged"]
            if not isinstance(names, list):
                self.fail(line_of(spec, "flagged"), f"'flagged' in {where} must be a list of categories")
                return None
            for index, name in enumerate(names):
                if not self._category(name, line_of(names, index) or line_of(spec, "flagged"), where):
                    return None
                flagged.append(name)
        scores: list[tuple[str, float]] = []
        if "scores" in spec:
            table = self.mapping(spec["scores"], line_of(spec, "scores"), f"'scores' in {where}")
            if table is None:
                return None
            for name, score in table.items():
                if not self._category(name, line_of(table, name), where):
                    return None
                if not _finite(score) or not 0 <= score <= 1:
                    self.fail(line_of(table, name), f"the score of '{name}' in {where} must be from 0 to 1")
                    return None
                scores.append((name, float(score)))
        return ModerationScript(tuple(dict.fromkeys(flagged)), tuple(scores))

    def _category(self, name: Any, line: int, where: str) -> bool:
        if name in MODERATION_CATEGORIES:
            return True
        self.fail(line, f"unknown moderation category {short(name)} in {where}{hint(str(name), MODERATION_CATEGORIES)}")
        return False


def _exponent_hint(value: Any) -> str:
    """YAML 1.1 reads `1e-9` as text (it wants `1.0e-9`): say so."""
    if isinstance(value, str) and re.fullmatch(r"[-+]?\d+[eE][-+]?\d+", value.strip()):
        mantissa, _, exponent = value.strip().lower().partition("e")
        return f" (YAML reads it as text: write {mantissa}.0e{exponent})"
    return ""


def _finite(value: Any) -> bool:
    """A number that is not infinite nor NaN (an integer always is one, however long: no float conversion)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)
