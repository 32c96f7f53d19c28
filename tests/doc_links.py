#!/usr/bin/env python3
"""Checks the relative links of README.md, CHANGELOG.md and docs/*.md.

Every relative Markdown link must name a file (or folder) of the checkout,
and its #anchor a heading of the target, slugged as GitHub does. Prints one
line per broken link and ends with "doc_links: N passed, M failed".

    python3 tests/doc_links.py [ROOT]   ROOT: the checkout (default: this one)
"""

import re
import sys
from pathlib import Path
from urllib.parse import unquote

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# Inline code first, so that a link-like text inside backticks is no link.
CODE_SPAN = re.compile(r"(`+)((?:(?!\n[ \t]*\n).)+?)\1", re.S)
# [text](target) or [text](<target> "title"); text may hold one level of [...].
INLINE = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFDEF = re.compile(r"^ {0,3}\[([^\]]+)\]:\s*(<[^>]*>|\S+)")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
HTML_ID = re.compile(r"<a\s[^>]*\b(?:name|id)\s*=\s*\"([^\"]+)\"", re.I)
LINE_ANCHOR = re.compile(r"^L\d+(-L\d+)?$")


def slug_text(heading):
    """The rendered text of a heading: links become their text, tags go."""
    heading = re.sub(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"<[^>]+>", "", heading)


def slug(heading):
    """GitHub's anchor: lowercase, punctuation other than '-' and '_' dropped,
    each space a '-'."""
    text = slug_text(heading).strip().lower()
    return "".join(
        "-" if c == " " else c for c in text if c.isalnum() or c in " -_"
    )


def prose(text):
    """The text with fenced code blocks blanked, line numbers kept."""
    out, fence = [], None
    for line in text.split("\n"):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(1)
            line = ""
        elif fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) \
                    and not line.strip()[len(m.group(1)):].strip():
                fence = None
            line = ""
        out.append(line)
    return "\n".join(out)


def anchors(path, cache={}):
    """Every anchor GitHub gives the headings of a Markdown file; a repeated
    heading gets -1, -2, ... as there."""
    if path not in cache:
        seen, found, previous = {}, set(), ""
        for line in prose(path.read_text(encoding="utf-8")).split("\n"):
            m = ATX.match(line)
            heading = m.group(2) if m else None
            if heading is None and SETEXT.match(line) and previous.strip() \
                    and not previous.startswith((" " * 4, "\t")):
                heading = previous.strip()
            if heading is not None:
                base = slug(heading)
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
            found.update(HTML_ID.findall(line))
            previous = line
        cache[path] = found
    return cache[path]


def links(path):
    """(line number, target) of every link of a Markdown file. A link's text
    may wrap onto several lines, so the whole text is searched at once."""
    text = prose(path.read_text(encoding="utf-8"))
    for number, line in enumerate(text.split("\n"), 1):
        m = REFDEF.match(line)
        if m:
            yield number, m.group(2)
    text = CODE_SPAN.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    for m in INLINE.finditer(text):
        yield text.count("\n", 0, m.start(2)) + 1, m.group(2)


def check(root, source, target):
    """Why a relative link is broken, or None."""
    target = target[1:-1] if target.startswith("<") else target
    path_part, _, anchor = target.partition("#")
    path_part = unquote(path_part.split("?", 1)[0])
    if not path_part:
        dest = source
    elif path_part.startswith("/"):
        dest = root / path_part.lstrip("/")
    else:
        dest = source.parent / path_part
    dest = dest.resolve()
    if dest != root and root not in dest.parents:
        return f"{path_part} is outside the repository"
    if not dest.exists():
        return f"{dest.relative_to(root)} does not exist"
    if not anchor:
        return None
    anchor = unquote(anchor)
    if dest.suffix.lower() not in (".md", ".markdown"):
        if dest.is_file() and LINE_ANCHOR.match(anchor):
            return None
        return f"#{anchor}: {dest.relative_to(root)} has no headings"
    if anchor not in anchors(dest):
        return f"no heading for #{anchor} in {dest.relative_to(root)}"
    return None


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent.parent).resolve()
    files = [root / "README.md", root / "CHANGELOG.md"] + sorted((root / "docs").glob("*.md"))
    passed = failed = 0
    for source in files:
        if not source.exists():
            print(f"{source.relative_to(root)}: missing")
            failed += 1
            continue
        for number, target in links(source):
            if SCHEME.match(target.lstrip("<")):
                continue
            problem = check(root, source, target)
            if problem:
                print(f"{source.relative_to(root)}:{number}: ({target}) {problem}")
                failed += 1
            else:
                passed += 1
    print(f"doc_links: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
