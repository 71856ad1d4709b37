#!/usr/bin/env python3
"""Keeps the docs' contract true to the code and the tests.

Usage: doc_contract_test.py REPO_ROOT

- Every Proxy error code the engine, the fake or the tool can answer (the
  kError* constants of include/sessionwheel/errors.h, the fake's own
  constants and literal codes in engine/fake/ and tools/) has a row in the
  one table of codes, docs/semantics.md "## Errors", and each row names a
  test.
- Every test a doc names (`Suite.Name`, or `FakeCliTest.test_…`) exists.
- Every link between the docs reaches a file of the repository and, with
  a #fragment, a heading there; no link leaves the repository except to a
  public https page, and nothing points at the specification that used to
  live outside it.
"""

import glob
import os
import re
import sys
import unittest

ROOT = None


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def docs():
    return ["README.md"] + sorted(
        os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))


def codes_the_code_answers():
    codes = set(int(c) for c in re.findall(
        r"inline constexpr int kError\w+ = (\d{5});",
        read("include/sessionwheel/errors.h")))
    for path in glob.glob(os.path.join(ROOT, "engine", "fake", "*.cc")):
        text = read(os.path.relpath(path, ROOT))
        codes |= set(int(c) for c in re.findall(r"constexpr int k\w+ = (\d{5});", text))
        codes |= set(int(c) for c in re.findall(r"ErrorToJson\(\s*(\d{5})", text))
    for path in glob.glob(os.path.join(ROOT, "tools", "*.cc")):
        text = read(os.path.relpath(path, ROOT))
        codes |= set(int(c) for c in re.findall(r"ErrorAnswer\(\s*\d{3},\s*(\d{5})", text))
    return codes


def error_table_rows():
    """The rows of the table under "## Errors" in docs/semantics.md."""
    text = read("docs/semantics.md")
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines()
            if re.match(r"\| \d{5} \|", line)]


def test_names():
    """Every test there is: "Suite.Name" for GoogleTest, "FakeCliTest.x"."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "tests", "**", "*.cc"), recursive=True):
        with open(path, encoding="utf-8") as f:
            names |= {f"{s}.{n}" for s, n in re.findall(
                r"\bTEST(?:_F|_P)?\(\s*(\w+),\s*(\w+)\)", f.read())}
    names |= {f"FakeCliTest.{n}" for n in re.findall(
        r"def (test_\w+)\(", read("tests/fake_cli_test.py"))}
    return names


def anchor(heading):
    """A heading's fragment as GitHub makes it."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


class DocContractTest(unittest.TestCase):

    def test_every_error_code_has_a_row_that_names_a_test(self):
        rows = error_table_rows()
        listed = {int(row[2:7]) for row in rows}
        missing = codes_the_code_answers() - listed
        self.assertFalse(missing, f"codes with no row in docs/semantics.md, Errors: {missing}")
        for row in rows:
            with self.subTest(row=row[:40]):
                self.assertRegex(row, r"`\w+Test\.\w+`", "a row names no test")

    def test_every_test_a_doc_names_exists(self):
        names = test_names()
        for doc in docs():
            for cited in re.findall(r"`([A-Z]\w*Test\.\w+)`", read(doc)):
                with self.subTest(doc=doc, test=cited):
                    self.assertTrue(cited in names, f"no test {cited}")

    def test_links_stay_in_the_repository_and_reach_their_target(self):
        for doc in docs():
            text = read(doc)
            self.assertNotRegex(text, r"SPEC\.md|\.\./shared|seeds/", doc)
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                with self.subTest(doc=doc, link=target):
                    if re.match(r"https://", target):
                        continue  # A public page.
                    self.assertNotRegex(target, r"^[a-z]+:", "not a public https page")
                    path, _, fragment = target.partition("#")
                    file = os.path.normpath(
                        os.path.join(os.path.dirname(doc), path)) if path else doc
                    self.assertFalse(file.startswith(".."), "leaves the repository")
                    self.assertTrue(os.path.exists(os.path.join(ROOT, file)), "no such file")
                    if fragment and file.endswith(".md"):
                        headings = re.findall(r"^#+ (.+)$", read(file), re.MULTILINE)
                        self.assertIn(fragment, {anchor(h) for h in headings})


if __name__ == "__main__":
    ROOT = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else ".")
    unittest.main()
