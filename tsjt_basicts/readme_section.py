"""Write a generated table into a Markdown file between two markers, leaving the rest as it was."""
from __future__ import annotations

from pathlib import Path

from tsjt_basicts.data.formats import write_atomically
from tsjt_basicts.errors import ConfigError


def markers(name: str) -> tuple[str, str]:
    """The start and end markers of section ``name``."""
    return f"<!-- leaderboard:{name} -->", f"<!-- /leaderboard:{name} -->"


def check_readme_section(path: Path, name: str, option: str = "--readme") -> str:
    """The text of Markdown file ``path``; :class:`ConfigError` unless it is a readable file holding
    section ``name``'s markers once each, in order (checked before anything is written)."""
    if not path.is_file():
        problem = "is a folder" if path.is_dir() else "does not exist"
        raise ConfigError(f"{option} {str(path)!r} {problem}; give the Markdown file holding the markers")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{option} {str(path)!r} cannot be read as text ({error}); give a Markdown file") from None
    start, end = markers(name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ConfigError(f"{path} needs one '{start}' line followed by one '{end}' line; "
                          "add them where the table goes")
    return text


def write_readme_section(path: Path, name: str, lines: list[str]) -> None:
    """Replace what stands between ``<!-- leaderboard:NAME -->`` and ``<!-- /leaderboard:NAME -->``
    in ``path`` with ``lines`` (the file is rewritten whole or not at all)."""
    text = check_readme_section(path, name)
    start, end = markers(name)
    head, rest = text.split(start)
    _, tail = rest.split(end)
    body = head + start + "\n" + "\n".join(lines).strip() + "\n" + end + tail
    write_atomically(path, lambda partial: partial.write_text(body))
