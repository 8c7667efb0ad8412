"""Check that the documentation lost no line: every non-blank line of a README as it was at a commit appears in
README.md or some docs/*.md of the working tree.

The README was cut into a short guide and reference pages under docs/ (2026-12-07), the text moved verbatim.
A line counts as found when it equals a line of one of those files, allowing only a heading's level to differ
(`## Disk` for `### Disk`) and a relative link to be re-based to its new folder (`](docs/x.png)` in README.md is
`](x.png)` in docs/): link targets are compared as paths from the repository's root.

    python3 scripts/doc_coverage.py [COMMIT]     # default b184cc8, the README before the cut

Prints the counts and every line not found; exit status 1 when any is missing. It also checks that every
relative link of README.md, docs/*.md, client/README.md and deploy/README.md names a file that exists and, with a
`#fragment`, a heading of it (GitHub's anchors), and prints those that do not.
"""

from __future__ import annotations

import posixpath
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} ")


def normalise(line: str, folder: str) -> str:
    """The line as compared: no heading marker, no trailing space, relative link targets from the root."""

    def rebase(match: re.Match[str]) -> str:
        target = match.group(1)
        if re.match(r"[a-z]+:|#|/", target):  # a URL, an anchor, an absolute path: as written
            return match.group(0)
        return "](" + posixpath.normpath(posixpath.join(folder, target)) + ")"

    return LINK.sub(rebase, HEADING.sub("", line.rstrip()))


def current_lines() -> dict[str, set[str]]:
    """Each documentation file of the working tree: its normalised lines."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found: dict[str, set[str]] = {}
    for path in files:
        folder = path.parent.relative_to(ROOT).as_posix()
        found[path.relative_to(ROOT).as_posix()] = {normalise(x, folder) for x in path.read_text().splitlines()}
    return found


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(path: Path) -> set[str]:
    found, fenced = set(), False
    for line in path.read_text().splitlines():
        fenced ^= line.startswith("```")
        if not fenced and HEADING.match(line):
            found.add(anchor(HEADING.sub("", line)))
    return found


def broken_links() -> list[str]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "client/README.md",
             ROOT / "deploy/README.md"]
    broken = []
    for path in files:
        for match in LINK.finditer(path.read_text()):
            target, _, fragment = match.group(1).partition("#")
            if re.match(r"[a-z]+:", target):
                continue
            linked = (path.parent / target).resolve() if target else path
            if not linked.exists() or (fragment and linked.suffix == ".md" and fragment not in headings(linked)):
                broken.append(f"{path.relative_to(ROOT)}: {match.group(1)}")
    return broken


def main(argv: list[str]) -> int:
    commit = argv[1] if len(argv) > 1 else "b184cc8"
    old = subprocess.run(["git", "show", f"{commit}:README.md"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    wanted = [(n, x) for n, x in enumerate(old, 1) if x.strip()]
    files = current_lines()
    missing = []
    where: dict[str, int] = dict.fromkeys(files, 0)
    for number, line in wanted:
        key = normalise(line, ".")
        holders = [name for name, lines in files.items() if key in lines]
        if not holders:
            missing.append((number, line))
        for name in holders:
            where[name] += 1
    print(f"old README ({commit}): {len(old)} lines, {len(wanted)} non-blank")
    for name, count in where.items():
        print(f"  found in {name}: {count}")
    print(f"missing: {len(missing)}")
    for number, line in missing:
        print(f"  line {number}: {line[:160]}")
    broken = broken_links()
    print(f"broken relative links: {len(broken)}")
    for link in broken:
        print(f"  {link}")
    return 1 if missing or broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
