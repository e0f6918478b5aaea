"""Unicode rules for text from clients: what is stored, what is refused, what counts as the
same organisation name, and how input is quoted back in error messages.

The patterns are published in the OpenAPI schema, so clients and schema-driven fuzzers know
the rule the validators here enforce (with the ``regex`` module's Unicode data).
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata

import icu
import regex


def _class_of(prop: str) -> str:
    """The code points of a Unicode property as character-class ranges, in the syntax every
    engine involved reads alike (ECMA-262 for clients, ``regex``, and the Rust engine
    schemathesis validates with): fuzzers reject ``\\p{Cf}``. BMP code points as ``\\uXXXX``,
    others (no such escape in ECMA-262 without the u flag) as themselves."""
    every = "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x110000)))

    def code_point(i: int) -> int:
        return i if i < 0xD800 else i + 0x800

    def esc(c: int) -> str:
        return f"\\u{c:04x}" if c <= 0xFFFF else chr(c)

    parts = []
    for run in regex.finditer(f"\\p{{{prop}}}+", every):
        first, last = code_point(run.start()), code_point(run.end() - 1)
        parts.append(esc(first) if first == last else f"{esc(first)}-{esc(last)}")
    return "".join(parts)


# Controls (Cc) and format characters (Cf: zero-width characters, bidi overrides and isolates,
# the soft hyphen...). Lone surrogates (Cs), which cannot be stored as UTF-8, are refused by the
# validators too; the published patterns leave them out (no JSON text carries one validly).
_UNSAFE = r"\x00-\x1f\x7f-\x9f" + _class_of("Cf")
# Long texts may hold tabs and newlines, and format characters that scripts need inside words
# (ZWJ/ZWNJ in Indic scripts); other controls are refused.
_TEXT_UNSAFE = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"

# One-line fields (city, tags): no unsafe character, and at least one visible one.
ONE_LINE_PATTERN = f"^[^{_UNSAFE}]*[^\\s{_UNSAFE}][^{_UNSAFE}]*$"
# A name also needs a letter or a digit: punctuation or symbols alone name no organisation.
NAME_PATTERN = f"^[^{_UNSAFE}]*[\\p{{L}}\\p{{N}}][^{_UNSAFE}]*$"
# Long texts: at least one visible character.
TEXT_PATTERN = f"^[^{_TEXT_UNSAFE}]*[^\\s{_TEXT_UNSAFE}][^{_TEXT_UNSAFE}]*$"
# Messages and notes: may be empty; otherwise as long texts.
MESSAGE_PATTERN = f"^[^{_TEXT_UNSAFE}]*$"
# Free-text query parameters: no controls or format characters at all (NUL cannot even be
# sent to PostgreSQL).
QUERY_PATTERN = f"^[^{_UNSAFE}]*$"

_UNSAFE_CHAR = regex.compile(r"[\p{Cc}\p{Cf}\p{Cs}]")
_TEXT_UNSAFE_CHAR = regex.compile(f"[{_TEXT_UNSAFE}\\p{{Cs}}]")
# A letter or digit that shows: default-ignorable letters (the Hangul fillers) render as
# nothing, so a name made of them is as invisible as one of zero-width spaces.
_VISIBLE_ALNUM = regex.compile(r"[\p{L}\p{N}](?<!\p{Default_Ignorable_Code_Point})")
_SPACE = regex.compile(r"\s+")


def nfc(value: str) -> str:
    """The stored form of every text: NFC, so the same letters are always the same code points
    (a Hangul syllable or an accented letter typed decomposed is stored composed)."""
    return unicodedata.normalize("NFC", value)


def unsafe_in_one_line(value: str) -> str | None:
    """The first control, format character or lone surrogate in ``value``, if any."""
    found = _UNSAFE_CHAR.search(value)
    return found.group() if found else None


def unsafe_in_text(value: str) -> str | None:
    """The first character a long text may not hold (controls other than tab and newlines,
    lone surrogates), if any."""
    found = _TEXT_UNSAFE_CHAR.search(value)
    return found.group() if found else None


def has_visible_alnum(value: str) -> bool:
    return _VISIBLE_ALNUM.search(value) is not None


def collapse_spaces(value: str) -> str:
    return _SPACE.sub(" ", value).strip()


# ICU's spoof checker is not documented as safe to share between threads: one per thread.
_checkers = threading.local()


def _skeleton(value: str) -> str:
    checker = getattr(_checkers, "checker", None)
    if checker is None:
        checker = _checkers.checker = icu.SpoofChecker()
    return checker.getSkeleton(0, value)


def name_key(name: str) -> str:
    """The duplicate key of an organisation name: two names with the same key are the same
    organisation (in the same country).

    Folded with NFKC (full-width and other compatibility forms), case folding, format
    characters removed (zero-width spaces, bidi controls), then mapped to its confusable
    skeleton (Unicode TS #39, by ICU) so that a Cyrillic "а" is a Latin "a" and a "0" an "O",
    case-folded again and whitespace collapsed. Stored as the SHA-256 of that fold: the fold of
    a 200-character name can be many times longer than the name (NFKC spells "ﷺ" in 18
    letters, the skeleton maps "m" to "rn"), and equality is all the key is for.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    folded = _UNSAFE_CHAR.sub("", folded)
    # Folded again after the skeleton, whose prototypes may be capitals ("0" -> "O").
    key = collapse_spaces(_skeleton(folded).casefold())
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def quote(value: str, limit: int = 64) -> str:
    """``value`` as quoted in an error message: at most ``limit`` characters (then an
    ellipsis), controls and format characters escaped. Echoing input in full let a
    10,000-character id come back whole."""
    if len(value) <= limit:
        return repr(value)  # repr escapes controls and format characters
    return repr(value[:limit])[:-1] + "…'"
