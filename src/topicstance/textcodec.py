"""Bytes to text: which encoding a scraped page or a hand-edited file is in, and whether it is
text at all. Shared by the prediction inputs, the labeled files and the labeling queue."""

import codecs
import re

# Magic numbers of the binary formats a scraper most often saves under a text name.
BINARY_MAGIC = {b"%PDF": "PDF", b"PK\x03\x04": "ZIP/Office", b"\x89PNG": "PNG", b"GIF8": "GIF",
                b"\xff\xd8\xff": "JPEG", b"\x1f\x8b": "gzip", b"\x7fELF": "ELF executable"}
# Unicode control characters (category Cc) but the whitespace ones text uses: tab, LF, FF, CR.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_META_CHARSET = re.compile(r"<meta[^>]*?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)


def decode(raw: bytes, declared: str | None = None) -> tuple[str, str, str]:
    """(text, encoding, problem): UTF-8 when it is, UTF-16 with a byte-order mark, else the
    encoding the page declares (`declared`: an HTML page's charset), else Windows-1252 (a
    superset of Latin-1's printable range, what legacy Western pages use) or, where that reads as
    Cyrillic misread (most letters in Windows-1252's accented range), Windows-1251, what legacy
    Russian and Ukrainian pages use; binary data is a problem, never text."""
    head = raw[:8192]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Windows tools ("Unicode" in Notepad, PowerShell's `>`) save UTF-16 with a byte-order
        # mark; its NUL bytes are half of every ASCII character, not binary data.
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            return "", "", "invalid UTF-16 text (byte-order mark, bad bytes)"
        return (text, "utf-16", "") if text.strip() else ("", "", "empty file")
    for magic, name in BINARY_MAGIC.items():
        if raw.startswith(magic):
            return "", "", f"binary file ({name}), not text"
    if b"\x00" in head:
        return "", "", "binary file (NUL bytes), not text"
    if not raw.strip():
        return "", "", "empty file"
    try:
        return raw.decode("utf-8-sig"), "utf-8", ""
    except UnicodeDecodeError:
        pass
    for encoding in ([declared] if declared else []) + ["cp1252", "latin-1"]:
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if control_share(text) > 0.01:
            continue
        if encoding == "cp1252" and _cyrillic_misread(text):
            return raw.decode("cp1251"), "cp1251", ""
        return text, encoding, ""
    return "", "", "neither UTF-8 nor Windows-1252/Latin-1 text"


def declared_charset(raw: bytes) -> str | None:
    """The charset an HTML page declares in its head (`<meta charset=...>` or the
    `http-equiv` content type), None where it names none or one Python does not know."""
    found = _META_CHARSET.search(raw[:4096].decode("ascii", errors="ignore"))
    if not found:
        return None
    try:
        name = codecs.lookup(found.group(1)).name
    except LookupError:
        return None
    # As browsers do (WHATWG encoding standard): a page labelled Latin-1 or ASCII is read as
    # Windows-1252, whose curly quotes and dashes such pages carry anyway.
    return "cp1252" if name in ("iso8859-1", "ascii") else name


def _cyrillic_misread(text: str) -> bool:
    """Cyrillic Windows-1251 bytes read as Windows-1252 put nearly every letter in the accented
    range (U+00C0-U+00FF); French or German text puts a few percent there."""
    letters = [c for c in text[:20_000] if c.isalpha()]
    return len(letters) >= 20 and sum("\u00c0" <= c <= "\u00ff" for c in letters) > 0.5 * len(letters)


def control_share(text: str) -> float:
    sample = text[:20_000]
    if not sample:
        return 0.0
    return len(_CONTROL.findall(sample)) / len(sample)
