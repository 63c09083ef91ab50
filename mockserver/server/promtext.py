"""The Prometheus text format (version 0.0.4), written by hand: a few families of counters, gauges and histograms
need no library, and summing the texts of several worker processes needs only their sample lines.

Every process writes its families in the same order, with labels in the same order and escaped the same way,
so a sample's text up to its value (`name{labels}`) identifies it across processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample_key(name: str, labels: Mapping[str, str]) -> str:
    """`name{label="value",...}`, the labels in the order given."""
    if not labels:
        return name
    return name + "{" + ",".join(f'{key}="{escape(value)}"' for key, value in labels.items()) + "}"


@dataclass
class Family:
    """One metric: its samples by key (`sample_key`), in the order they were added."""

    name: str
    kind: str  # counter, gauge or histogram
    help: str
    samples: dict[str, float] = field(default_factory=dict)

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        key = sample_key(self.name + suffix, labels)
        self.samples[key] = self.samples.get(key, 0) + value


def render(families: Iterable[Family]) -> str:
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        lines.extend(f"{key} {_number(value)}" for key, value in family.samples.items())
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def parse_samples(text: str) -> dict[str, dict[str, float]]:
    """A text of `render` read back: family name -> {sample key: value}. Lines that are not samples of a
    declared family are skipped."""
    families: dict[str, dict[str, float]] = {}
    current: dict[str, float] | None = None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            current = families.setdefault(line.split(" ")[2], {})
        elif line and not line.startswith("#") and current is not None:
            key, _, value = line.rpartition(" ")
            try:
                current[key] = current.get(key, 0) + float(value)
            except ValueError:
                continue
    return families


def add_up(families: list[Family], others: Iterable[Mapping[str, Mapping[str, float]]]) -> list[Family]:
    """`families` with the samples of other processes' texts (`parse_samples`) added in: every family here is
    a counter, a gauge that adds up (open streams, journal entries) or a histogram, so sums are the whole's."""
    by_name = {family.name: family for family in families}
    for other in others:
        for name, samples in other.items():
            family = by_name.get(name)
            if family is None:
                continue  # a family this process does not know (a newer worker's): left out, not guessed at
            for key, value in samples.items():
                family.samples[key] = family.samples.get(key, 0) + value
    return families
