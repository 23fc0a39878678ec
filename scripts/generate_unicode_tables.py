#!/usr/bin/python3
"""Writes the Unicode and HTML data tables of the CLIP tokenizer's text cleaning.

CLIP's reference tokenizer cleans text with Python's html.unescape and str.lower and splits it with
the `regex` module's \\s, \\p{L} and \\p{N}. This script reads those facts from the Python that runs it
(unicodedata, html.entities, str.lower, str.isspace) and writes them as plain C++ data:
  text/unicode_tables.cpp  (declared in text/unicode_tables.h)
  text/html_entities.cpp   (declared in text/html_entities.h)
Run it from the repository root with /usr/bin/python3 (the tables record its Unicode version):
  /usr/bin/python3 scripts/generate_unicode_tables.py
"""
import html
import html.entities
import sys
import unicodedata

MAX_CODE_POINT = 0x10FFFF
SIGMA = "\u03a3"
FINAL_SIGMA = "\u03c2"

# Unicode's White_Space property (PropList.txt, unchanged since Unicode 6.3): what the `regex`
# module's \s matches. Python's str.isspace() also accepts U+001C..U+001F, which \s does not.
WHITE_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
               (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
               (0x3000, 0x3000)]


def code_points():
    return (c for c in range(MAX_CODE_POINT + 1) if not 0xD800 <= c <= 0xDFFF)


def ranges_where(predicate):
    ranges = []
    for c in code_points():
        if predicate(c):
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
    return ranges


def casing_context_class(c):
    """Classifies c for str.lower()'s Final_Sigma rule by asking Python itself.

    CPython lowers U+03A3 to final sigma when a cased letter precedes it (skipping case-ignorable
    characters) and none follows. `c + SIGMA` gets final sigma iff c is cased and not
    case-ignorable; `"A" + c + SIGMA` iff c is case-ignorable or cased.
    """
    stops_as_cased = (chr(c) + SIGMA).lower()[-1] == FINAL_SIGMA
    skipped_or_cased = ("A" + chr(c) + SIGMA).lower()[-1] == FINAL_SIGMA
    if stops_as_cased:
        return "cased"
    return "ignorable" if skipped_or_cased else "other"


def cpp_char32(c):
    return f"0x{c:04X}"


def cpp_string(text):
    # Octal escapes are at most three digits, so a following character can never extend them.
    return '"' + "".join(f"\\{b:03o}" if not (0x20 <= b < 0x7F) or chr(b) in '"\\?' else chr(b)
                         for b in text.encode("utf-8")) + '"'


class CppTables:
    """Collects constexpr arrays (file-local) and the exported tables that point at them."""

    def __init__(self):
        self.arrays, self.exports = [], []

    def add(self, name, element_type, table_type, rows, comment):
        self.arrays.append(f"// {comment}\nconstexpr {element_type} {name}_data[] = {{\n" +
                           "\n".join(f"    {row}," for row in rows) + "\n};\n")
        self.exports.append(f"const {table_type} {name}{{{name}_data, std::size({name}_data)}};\n")

    def add_ranges(self, name, ranges, comment):
        self.add(name, "CodePointRange", "RangeTable",
                 [f"{{{cpp_char32(a)}, {cpp_char32(b)}}}" for a, b in ranges], comment)

    def text(self):
        return "namespace {\n" + "".join(self.arrays) + "}  // namespace\n\n" + "".join(self.exports)


def write(path, text):
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    print(f"wrote {path}")


def unicode_tables():
    categories = [None] * (MAX_CODE_POINT + 1)
    for c in code_points():
        categories[c] = unicodedata.category(chr(c))
    contexts = {c: casing_context_class(c) for c in code_points()}

    lower_single, lower_special = [], []
    for c in code_points():
        if c == ord(SIGMA):
            continue  # context-dependent: handled by the Final_Sigma rule in code
        lowered = chr(c).lower()
        if lowered == chr(c):
            continue
        if len(lowered) == 1:
            lower_single.append((c, ord(lowered)))
        else:
            lower_special.append((c, [ord(x) for x in lowered]))
    assert all(len(cps) <= 3 for _, cps in lower_special)
    for low, high in WHITE_SPACE:
        assert all(chr(c).isspace() for c in range(low, high + 1))

    tables = CppTables()
    tables.add_ranges("kLetterRanges", ranges_where(lambda c: categories[c][0] == "L"),
                      "General_Category L (Lu, Ll, Lt, Lm, Lo): regex's \\p{L}.")
    tables.add_ranges("kNumberRanges", ranges_where(lambda c: categories[c][0] == "N"),
                      "General_Category N (Nd, Nl, No): regex's \\p{N}.")
    tables.add_ranges("kWhiteSpaceRanges", WHITE_SPACE, "White_Space property: regex's \\s.")
    tables.add_ranges("kPythonSpaceRanges", ranges_where(lambda c: chr(c).isspace()),
                      "Python's str.isspace(): what str.strip() removes.")
    tables.add_ranges("kCaseIgnorableRanges", ranges_where(lambda c: contexts[c] == "ignorable"),
                      "Skipped by str.lower()'s Final_Sigma context scan (case-ignorable).")
    tables.add_ranges("kCasedRanges", ranges_where(lambda c: contexts[c] == "cased"),
                      "Cased and not case-ignorable: ends str.lower()'s Final_Sigma context scan.")
    tables.add("kLowerCaseMappings", "LowerCaseMapping", "LowerCaseTable",
               [f"{{{cpp_char32(a)}, {cpp_char32(b)}}}" for a, b in lower_single],
               "str.lower() of characters whose lower case is one other character, by code point.")
    tables.add("kSpecialLowerCaseMappings", "SpecialLowerCaseMapping", "SpecialLowerCaseTable",
               [f"{{{cpp_char32(a)}, {{{', '.join(cpp_char32(x) for x in cps + [0] * (3 - len(cps)))}}}}}"
                for a, cps in lower_special],
               "str.lower() of characters whose lower case is several characters (zero-padded).")
    header = (f"// Generated by scripts/generate_unicode_tables.py from Python {sys.version.split()[0]}\n"
              f"// (Unicode {unicodedata.unidata_version}); do not edit by hand.\n"
              '#include "text/unicode_tables.h"\n\n#include <iterator>\n\n'
              "namespace pg::text::unicode_tables {\n\n")
    write("text/unicode_tables.cpp",
          header + tables.text() + "\n}  // namespace pg::text::unicode_tables\n")


def html_entities():
    entities = sorted(html.entities.html5.items(), key=lambda item: item[0].encode("utf-8"))
    invalid_ranges = ranges_where(lambda c: c in html._invalid_codepoints)
    tables = CppTables()
    tables.add("kNamedEntities", "NamedEntity", "NamedEntityTable",
               [f"{{{cpp_string(name)}, {cpp_string(value)}}}" for name, value in entities],
               "Every HTML5 named character reference, sorted by name (byte order). Names keep their\n"
               "// ';'; the legacy ones that may appear without it are listed a second time without it.")
    tables.add("kCharrefReplacements", "CharrefReplacement", "CharrefReplacementTable",
               [f"{{{cpp_char32(n)}, {cpp_char32(ord(v))}}}"
                for n, v in sorted(html._invalid_charrefs.items())],
               "Numeric references that HTML maps to another character (mostly Windows-1252).")
    tables.add_ranges("kDroppedCharrefs", invalid_ranges,
                      "Numeric references that html.unescape drops (controls, noncharacters).")
    text = (f"// Generated by scripts/generate_unicode_tables.py from Python {sys.version.split()[0]}'s\n"
            "// html.entities.html5 and html.unescape's numeric-reference rules; do not edit by hand.\n"
            '#include "text/html_entities.h"\n\n#include <iterator>\n\n'
            "namespace pg::text::html_entities {\n\n"
            "using unicode_tables::CodePointRange;\nusing unicode_tables::RangeTable;\n\n" +
            tables.text() + "\n}  // namespace pg::text::html_entities\n")
    write("text/html_entities.cpp", text)


if __name__ == "__main__":
    unicode_tables()
    html_entities()
