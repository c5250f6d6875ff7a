"""Recording benchmark tables in ``benchmarks/RESULTS.md``, one ``## <section>`` per benchmark."""

from __future__ import annotations

import os

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def append_to_section(section: str, text: str, path: str = RESULTS) -> None:
    """Append ``text`` after the last non-blank line of the ``## <section>`` section of ``path``
    (the section is added at the end when missing; the file is made when missing)."""
    content = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    lines = content.rstrip("\n").split("\n")
    heading = f"## {section}"
    try:
        start = lines.index(heading)
    except ValueError:
        lines += ["", heading]
        start = len(lines) - 1
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    lines[end:end] = [""] + text.rstrip("\n").split("\n")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
