#!/usr/bin/env python3
"""Extract an English prose corpus from the .NET reference documentation XML (MIT licence).

Reads every /usr/share/dotnet/packs/*/*/ref/net10.0/*.xml (IntelliSense docs shipped with the SDK),
keeps the prose of <summary>, <remarks>, <returns>, <param>, <value> and <exception> of every member,
turns inline markup into plain text (<see cref="T:System.String"/> -> String, <see langword="null"/> -> null,
<paramref name="x"/> -> x, <c>x</c> -> x; <code> blocks dropped), normalises whitespace, drops very short
fragments and exact duplicate documents, and writes one document per member, documents separated by a
blank line, to <out>/corpus-train.txt.gz and <out>/corpus-valid.txt.gz. The held-out split is chosen
deterministically from a hash of the member name (about 2%).

Python 3.11 standard library only.  Usage:  python3 tools/train/extract_corpus.py [--out .train]
"""
from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import os
import re
import sys
import xml.etree.ElementTree as ET

DEFAULT_GLOB = "/usr/share/dotnet/packs/*/*/ref/net10.0/*.xml"
SECTIONS = ("summary", "remarks", "returns", "param", "value", "exception")
DROP = {"code", "example", "inheritdoc", "include", "seealso", "filterpriority", "threadsafety",
        "altmember", "permission", "format"}
BLOCK = {"para", "p", "br", "list", "item", "listheader", "term", "description", "ul", "ol", "li", "div"}
WS = re.compile(r"\s+")
SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)\]])")
SPACE_AFTER_OPEN = re.compile(r"([(\[])\s+")
MIN_SECTION_CHARS = 12
MIN_SECTION_WORDS = 3
MIN_DOC_CHARS = 40
# Code-like fragments (mostly the hardware-intrinsics docs: "__m128 _mm_add_ps (__m128 a, __m128 b) ADDPS xmm...")
# are not English prose: drop a fragment when under half its tokens look like words, or it names a C vector type.
WORDLIKE = re.compile(r"^[(\"']?[A-Za-z][a-z']*[,.;:)\"']?$")
C_SIGNATURE = re.compile(r"\b(sv[a-z0-9]+_t|__m\d+[a-z]*|[a-z]*int\d+x\d+(x\d+)?_t|float\d+x\d+(x\d+)?_t|u?int\d+_t|float\d+_t)\b")


def cref_name(cref: str) -> str:
    """'T:System.Collections.Generic.List`1' -> 'List'; 'M:System.String.Join(System.String,...)' -> 'Join';
    'M:System.String.#ctor(...)' -> 'String'; 'O:Foo.Bar.Baz' -> 'Baz'."""
    s = cref.strip()
    if len(s) > 2 and s[1] == ":":
        s = s[2:]
    elif s.lower().startswith("overload:"):
        s = s[len("overload:"):]
    s = s.split("(", 1)[0]
    s = re.sub(r"`+\d+", "", s)
    s = re.sub(r"\{.*\}", "", s)
    parts = [p for p in s.split(".") if p]
    if not parts:
        return cref
    last = parts[-1]
    if last in ("#ctor", "#cctor"):
        return parts[-2] if len(parts) > 1 else "constructor"
    if last.startswith("op_"):
        return last[3:] + " operator"
    return last.lstrip("#")


def inline_text(el: ET.Element) -> str:
    """Plain text of an element with its inline markup resolved."""
    out: list[str] = []

    def walk(e: ET.Element, top: bool) -> None:
        tag = e.tag if isinstance(e.tag, str) else ""
        tag = tag.lower()
        if not top:
            if tag in DROP:
                out.append(" ")
                if e.tail:
                    out.append(e.tail)
                return
            if tag in BLOCK:
                out.append(" ")
            inner = "".join(e.itertext()).strip()
            if tag == "see" or tag == "seealso" or tag == "xref":
                if inner:
                    out.append(inner)
                elif e.get("langword") is not None:
                    out.append(e.get("langword", ""))
                elif e.get("cref") is not None:
                    out.append(cref_name(e.get("cref", "")))
                elif e.get("uid") is not None:
                    out.append(cref_name("T:" + e.get("uid", "")))
                elif e.get("href") is not None:
                    out.append(e.get("href", ""))
                if e.tail:
                    out.append(e.tail)
                return
            if tag in ("paramref", "typeparamref"):
                out.append(e.get("name", ""))
                if e.tail:
                    out.append(e.tail)
                return
        if e.text:
            out.append(e.text)
        for child in e:
            walk(child, False)
        if not top:
            if tag in BLOCK:
                out.append(" ")
            if e.tail:
                out.append(e.tail)

    walk(el, True)
    text = WS.sub(" ", "".join(out)).strip()
    text = SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = SPACE_AFTER_OPEN.sub(r"\1", text)
    return text


def good_fragment(text: str) -> bool:
    tokens = text.split()
    if len(text) < MIN_SECTION_CHARS or len(tokens) < MIN_SECTION_WORDS or not any(c.isalpha() for c in text):
        return False
    if sum(1 for t in tokens if WORDLIKE.match(t)) < 0.5 * len(tokens):
        return False
    return C_SIGNATURE.search(text) is None


def member_document(member: ET.Element) -> str | None:
    lines: list[str] = []
    seen: set[str] = set()
    for section in SECTIONS:
        for el in member.findall(section):
            text = inline_text(el)
            if section == "exception" and text:
                ex = cref_name(el.get("cref", "")) if el.get("cref") else ""
                if ex and good_fragment(text):
                    text = f"{ex}: {text}"
            if not good_fragment(text) or text in seen:
                continue
            seen.add(text)
            lines.append(text)
    if not lines:
        return None
    doc = "\n".join(lines)
    return doc if len(doc) >= MIN_DOC_CHARS else None


def is_valid_member(name: str, valid_per_mille: int) -> bool:
    h = int.from_bytes(hashlib.md5(name.encode("utf-8")).digest()[:4], "little")
    return h % 1000 < valid_per_mille


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--glob", default=DEFAULT_GLOB)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".train"))
    ap.add_argument("--valid-per-mille", type=int, default=20, help="held-out share, per mille of member names")
    ap.add_argument("--no-gzip", action="store_true", help="write plain .txt instead of .txt.gz")
    args = ap.parse_args(argv)

    files = sorted(glob.glob(args.glob))
    if not files:
        print(f"no files match {args.glob}", file=sys.stderr)
        return 1
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)

    seen_docs: set[str] = set()
    train: list[str] = []
    valid: list[str] = []
    members = dupes = empty = bad_files = 0
    for path in files:
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            bad_files += 1
            print(f"skip {path}: {e}", file=sys.stderr)
            continue
        for member in root.iter("member"):
            members += 1
            doc = member_document(member)
            if doc is None:
                empty += 1
                continue
            if doc in seen_docs:
                dupes += 1
                continue
            seen_docs.add(doc)
            (valid if is_valid_member(member.get("name", doc), args.valid_per_mille) else train).append(doc)

    suffix = ".txt" if args.no_gzip else ".txt.gz"
    stats = {}
    for name, docs in (("train", train), ("valid", valid)):
        text = "\n\n".join(docs) + "\n"
        data = text.encode("utf-8")
        path = os.path.join(out_dir, f"corpus-{name}{suffix}")
        if args.no_gzip:
            with open(path, "wb") as f:
                f.write(data)
        else:
            with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
                f.write(data)
        stats[name] = (len(docs), len(text), len(data), os.path.getsize(path))
        # Remove a stale file of the other flavour so the trainer never picks up an old corpus.
        other = os.path.join(out_dir, f"corpus-{name}" + (".txt.gz" if args.no_gzip else ".txt"))
        if os.path.exists(other):
            os.remove(other)

    print(f"xml files: {len(files)} (unparseable: {bad_files}); members: {members}; "
          f"no usable prose: {empty}; duplicate documents dropped: {dupes}")
    for name, (n, chars, nbytes, fsize) in stats.items():
        print(f"{name}: {n} docs, {chars} chars, {nbytes / 1e6:.2f} MB utf-8, {fsize / 1e6:.2f} MB on disk "
              f"-> {os.path.join(out_dir, f'corpus-{name}{suffix}')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
