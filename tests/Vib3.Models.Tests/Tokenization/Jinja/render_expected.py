#!/usr/bin/env python3
"""Renders every case of cases.json with Python's jinja2 the way transformers renders chat templates, and writes
expected.json, which JinjaAgreementTests holds vib3's renderer to.

transformers' setup: an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and the loopcontrols extension,
its own tojson filter (json.dumps with ensure_ascii=False and the indent / separators / sort_keys arguments) and a
raise_exception global. A case marked "mutable" renders in jinja2's SandboxedEnvironment instead, which lets templates
change lists (list.append, pop): transformers' immutable sandbox refuses that, plain Jinja2 and llama.cpp allow it,
and Kimi K2's template needs it, so vib3 allows it too. A case jinja2 refuses is written as {"error": "..."}: vib3 must
refuse it too.

Run from anywhere: python3 tests/Vib3.Models.Tests/Tokenization/Jinja/render_expected.py (needs jinja2 3.1).
"""
import json
import os

import jinja2
from jinja2.exceptions import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise TemplateError(message)


def environment(kind):
    env = kind(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    immutable, mutable = (environment(kind) for kind in (ImmutableSandboxedEnvironment, SandboxedEnvironment))
    with open(os.path.join(here, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    expected = {}
    for case in cases:
        env = mutable if case.get("mutable") else immutable
        try:
            expected[case["name"]] = {"text": env.from_string(case["template"]).render(**case["variables"])}
        except (TemplateError, TypeError) as e:  # TypeError: what jinja2 raises for, say, sorting a string with a number
            expected[case["name"]] = {"error": f"{type(e).__name__}: {e}"}
    with open(os.path.join(here, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"jinja2": jinja2.__version__, "expected": expected}, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
