"""Free text a person types (meanings, rationales, comments, names): what it may contain.

A signature's meaning or a user's name printed by the command line, or a comment shown in the
window, must not be able to forge lines of a manifest or carry terminal escapes. So: no
control characters at all in one-line texts, and only line breaks and tabs in multi-line ones.
Unicode's other invisible formatting characters that reorder text (bidirectional overrides)
are refused too.
"""

from __future__ import annotations

import unicodedata

_MULTILINE_ALLOWED = frozenset("\n\t")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _forbidden(char: str) -> bool:
    return unicodedata.category(char) == "Cc" or char in _BIDI_CONTROLS


_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def escape_controls(text: str) -> str:
    """``text`` with every character :func:`forbidden_characters` refuses written out
    (``\\n``, ``\\x1b``, ``\\u202e``): what is printed on one line stays one line."""
    return "".join(
        (_ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"))
        if _forbidden(c)
        else c
        for c in text
    )


def forbidden_characters(text: str, *, multiline: bool = False) -> list[str]:
    """The characters of ``text`` a typed text may not hold, each as ``U+001B`` (in order).

    Control characters (Unicode category Cc: C0, DEL, C1) and bidirectional overrides are
    forbidden; a ``multiline`` text may hold line breaks and tabs (``\\r`` is forbidden:
    it would overwrite a printed line).
    """
    found: list[str] = []
    for char in text:
        allowed = multiline and char in _MULTILINE_ALLOWED
        if not allowed and _forbidden(char):
            code = f"U+{ord(char):04X}"
            if code not in found:
                found.append(code)
    return found


def describe_forbidden(what: str, text: str, *, multiline: bool = False) -> str | None:
    """``"meaning: holds control characters (U+001B); ..."`` or ``None`` when ``text`` is clean."""
    found = forbidden_characters(text, multiline=multiline)
    if not found:
        return None
    allowed = " (line breaks and tabs are fine)" if multiline else ""
    return (
        f"{what}: holds control characters ({', '.join(found)}) that could forge printed lines "
        f"or carry terminal escapes; type plain text{allowed}"
    )
