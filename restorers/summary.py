"""A Markdown table of every registered network: kind, source, parameters at the defaults vs the paper's."""

from __future__ import annotations

from fh_gym.restorers.base import count_parameters
from fh_gym.restorers.registry import ARCHS, list_archs


def network_rows() -> list[tuple[str, str, str, int, int | None]]:
    """(name, kind, paper, parameters at default kwargs, parameters the paper reports or None)."""
    rows = []
    for name in list_archs():
        cls = ARCHS.get(name)
        rows.append((name, cls.kind, getattr(cls, "paper", ""), count_parameters(cls()),
                     getattr(cls, "paper_parameters", None)))
    return rows


def network_table() -> str:
    lines = ["| network | kind | from | parameters (defaults) | parameters (paper) |", "|---|---|---|---|---|"]
    for name, kind, paper, ours, theirs in network_rows():
        paper_count = f"{theirs:,}" if theirs else "not given"
        lines.append(f"| `{name}` | {kind} | {paper} | {ours:,} | {paper_count} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(network_table())
