"""Write a generated table into a Markdown file between two markers, leaving the rest as it was."""
from __future__ import annotations

from pathlib import Path

from tsjt_basicts.data.formats import write_atomically
from tsjt_basicts.errors import ConfigError


def write_readme_section(path: Path, name: str, lines: list[str]) -> None:
    """Replace what stands between ``<!-- leaderboard:NAME -->`` and ``<!-- /leaderboard:NAME -->``
    in ``path`` with ``lines`` (the file is rewritten whole or not at all)."""
    start, end = f"<!-- leaderboard:{name} -->", f"<!-- /leaderboard:{name} -->"
    text = path.read_text()
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ConfigError(f"{path} needs one '{start}' line followed by one '{end}' line; "
                          "add them where the table goes")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    body = head + start + "\n" + "\n".join(lines).strip() + "\n" + end + tail
    write_atomically(path, lambda partial: partial.write_text(body))
