"""Versions and constraints behave like the reference (Masterminds semver v3).

Most rows come from the public Masterminds semver v3 test tables (version_test.go and
constraints_test.go); the rest from the rules of Masterminds semver v3.
"""

from __future__ import annotations

import copy
import functools
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from package_registry.packages.versions import (
    Constraint,
    ConstraintError,
    Version,
    VersionError,
)


def cases(behaviour: str, rows: list[tuple[object, ...]]) -> list[object]:
    """One pytest.param per row, its id naming the behaviour and the row's inputs."""
    return [
        pytest.param(*row, id=f"{behaviour}: {' | '.join(repr(x) for x in row[:2])}")
        for row in rows
    ]


# --- Strict parsing -------------------------------------------------------------------

STRICT_VALID = [
    *cases(
        "plain release",
        [
            ("1.2.3", (1, 2, 3, "", "")),
            ("1.0.0", (1, 0, 0, "", "")),
            ("0.0.0", (0, 0, 0, "", "")),
            ("1.2.2147483648", (1, 2, 2147483648, "", "")),
            ("1.2147483648.3", (1, 2147483648, 3, "", "")),
            ("2147483648.3.0", (2147483648, 3, 0, "", "")),
            ("18446744073709551615.0.0", (18446744073709551615, 0, 0, "", "")),
        ],
    ),
    *cases(
        "prerelease and metadata",
        [
            ("1.2.0-rc1", (1, 2, 0, "rc1", "")),
            ("1.0.0-rc.1+b5", (1, 0, 0, "rc.1", "b5")),
            ("1.2.3+test.01", (1, 2, 3, "", "test.01")),
            ("1.2.3-alpha.-1", (1, 2, 3, "alpha.-1", "")),
            ("1.2.0-x.Y.0+metadata", (1, 2, 0, "x.Y.0", "metadata")),
            (
                "1.2.0-x.Y.0+metadata-width-hypen",
                (1, 2, 0, "x.Y.0", "metadata-width-hypen"),
            ),
            ("1.2.3-rc1-with-hypen", (1, 2, 3, "rc1-with-hypen", "")),
            ("1.2.3-0abc123", (1, 2, 3, "0abc123", "")),
            ("8.1.0-SNAPSHOT", (8, 1, 0, "SNAPSHOT", "")),
            (
                "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
                (1, 2, 3, "---RC-SNAPSHOT.12.9.1--.12", "788"),
            ),
        ],
    ),
]


@pytest.mark.parametrize(("text", "parts"), STRICT_VALID)
def test_parse_strict_accepts(text: str, parts: tuple[int, int, int, str, str]) -> None:
    version = Version.parse_strict(text)
    assert (
        version.major,
        version.minor,
        version.patch,
        version.prerelease,
        version.metadata,
    ) == parts
    assert version.original == text
    assert str(version) == text


STRICT_INVALID = [
    *cases("empty", [("", "version string empty")]),
    *cases(
        "not three dot-separated parts",
        [
            ("1.0", "invalid semantic version"),
            ("v1.0", "invalid semantic version"),
            ("1", "invalid semantic version"),
            ("v1", "invalid semantic version"),
            ("1.2", "invalid semantic version"),
            ("foo", "invalid semantic version"),
            ("1.2-5", "invalid semantic version"),
            ("v1.2-5", "invalid semantic version"),
            ("\n1.2", "invalid semantic version"),
            ("20221209-update-renovatejson-v4", "invalid semantic version"),
            ("+invalid", "invalid semantic version"),
            ("-invalid", "invalid semantic version"),
            ("-invalid.01", "invalid semantic version"),
            ("alpha+beta", "invalid semantic version"),
        ],
    ),
    *cases(
        "non-digit in a number",
        [
            ("v1.2.3", "invalid characters in version"),
            ("a.b.c", "invalid characters in version"),
            ("1.2.beta", "invalid characters in version"),
            ("v1.2.beta", "invalid characters in version"),
            ("1.2-beta.5", "invalid characters in version"),
            ("v1.2.0-x.Y.0+metadata", "invalid characters in version"),
            ("v1.2.3-rc1-with-hypen", "invalid characters in version"),
            ("1.2.3.4", "invalid characters in version"),
            ("v1.2.3.4", "invalid characters in version"),
            ("1.2.3 ", "invalid characters in version"),
            ("\u0661.2.3", "invalid characters in version"),
        ],
    ),
    *cases(
        "leading zero",
        [
            ("01.0.0", "version segment starts with 0"),
            ("01.1.1", "version segment starts with 0"),
            ("1.01.1", "version segment starts with 0"),
            ("1.1.01", "version segment starts with 0"),
            ("1.2.3-alpha.01", "version segment starts with 0"),
            ("1.2.3-beta.01", "version segment starts with 0"),
            ("1.2.3-0123", "version segment starts with 0"),
            ("1.2.3-0123.0123", "version segment starts with 0"),
            ("1.2.31----RC-SNAPSHOT.12.09.1--.12+788", "version segment starts with 0"),
        ],
    ),
    *cases(
        "bad prerelease",
        [
            ("1.0.0-alpha_beta", "invalid prerelease string"),
            ("1.0.0-alpha..", "invalid prerelease string"),
            ("1.0.0-alpha..1", "invalid prerelease string"),
            ("1.2.3-alpha_beta+foo", "invalid prerelease string"),
            ("1.2.3-", "invalid prerelease string"),
            ("1.2.3-\u0663", "invalid prerelease string"),
        ],
    ),
    *cases(
        "bad metadata (checked before the prerelease)",
        [
            ("1.1.2+.123", "invalid metadata string"),
            ("9.8.7+meta+meta", "invalid metadata string"),
            ("1.2.3+", "invalid metadata string"),
            ("1.2.3-a_b+c_d", "invalid metadata string"),
            ("1.2.3-01+x_y", "invalid metadata string"),
        ],
    ),
    *cases(
        "number out of uint64 range",
        [
            (
                "18446744073709551616.0.0",
                'strconv.ParseUint: parsing "18446744073709551616": value out of range',
            ),
            (
                "1.2.99999999999999999999999",
                'strconv.ParseUint: parsing "99999999999999999999999": value out of range',
            ),
        ],
    ),
    *cases(
        "empty number part",
        [
            ("1..3", 'strconv.ParseUint: parsing "": invalid syntax'),
            (".1.2", 'strconv.ParseUint: parsing "": invalid syntax'),
            ("1.2.-rc1", 'strconv.ParseUint: parsing "": invalid syntax'),
        ],
    ),
]


@pytest.mark.parametrize(("text", "message"), STRICT_INVALID)
def test_parse_strict_rejects_with_reference_text(text: str, message: str) -> None:
    with pytest.raises(VersionError) as caught:
        Version.parse_strict(text)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


# --- Loose parsing --------------------------------------------------------------------

LOOSE_VALID = [
    *cases(
        "complete version",
        [
            ("1.2.3", (1, 2, 3, "", "")),
            ("1.2.3+test.01", (1, 2, 3, "", "test.01")),
            ("1.2.3-alpha.-1", (1, 2, 3, "alpha.-1", "")),
            ("1.2.0-x.Y.0+metadata", (1, 2, 0, "x.Y.0", "metadata")),
            ("1.2.3-rc1-with-hypen", (1, 2, 3, "rc1-with-hypen", "")),
            ("1.2.3-0abc123", (1, 2, 3, "0abc123", "")),
            ("1.2.2147483648", (1, 2, 2147483648, "", "")),
            ("8.1.0-SNAPSHOT", (8, 1, 0, "SNAPSHOT", "")),
        ],
    ),
    *cases(
        "v prefix",
        [
            ("v1.2.3", (1, 2, 3, "", "")),
            ("v1.0", (1, 0, 0, "", "")),
            ("v1", (1, 0, 0, "", "")),
            ("v1.2-5", (1, 2, 0, "5", "")),
            ("v1.2-beta.5", (1, 2, 0, "beta.5", "")),
            (
                "v1.2.0-x.Y.0+metadata-width-hypen",
                (1, 2, 0, "x.Y.0", "metadata-width-hypen"),
            ),
            ("v1.2.3-rc1-with-hypen", (1, 2, 3, "rc1-with-hypen", "")),
        ],
    ),
    *cases(
        "missing minor or patch is zero",
        [
            ("1.0", (1, 0, 0, "", "")),
            ("1", (1, 0, 0, "", "")),
            ("1.2-5", (1, 2, 0, "5", "")),
            ("1.2-beta.5", (1, 2, 0, "beta.5", "")),
            ("8.1", (8, 1, 0, "", "")),
            (
                "20221209-update-renovatejson-v4",
                (20221209, 0, 0, "update-renovatejson-v4", ""),
            ),
        ],
    ),
    *cases(
        "leading zeros are coerced",
        [
            ("01.1.1", (1, 1, 1, "", "")),
            ("1.01.1", (1, 1, 1, "", "")),
            ("1.1.01", (1, 1, 1, "", "")),
            ("07.1", (7, 1, 0, "", "")),
            ("0000000000000000000000001.0.0", (1, 0, 0, "", "")),
        ],
    ),
]


@pytest.mark.parametrize(("text", "parts"), LOOSE_VALID)
def test_parse_loose_accepts(text: str, parts: tuple[int, int, int, str, str]) -> None:
    version = Version.parse_loose(text)
    assert (
        version.major,
        version.minor,
        version.patch,
        version.prerelease,
        version.metadata,
    ) == parts
    assert str(version) == text


OVERFLOW = 'error parsing version segment: strconv.ParseUint: parsing "{}": value out of range'

LOOSE_INVALID = [
    *cases(
        "does not match the loose pattern",
        [
            ("", "invalid semantic version"),
            ("foo", "invalid semantic version"),
            ("a.b", "invalid semantic version"),
            ("1.2.beta", "invalid semantic version"),
            ("v1.2.beta", "invalid semantic version"),
            ("\n1.2", "invalid semantic version"),
            ("\nv1.2", "invalid semantic version"),
            ("1.2.3\n", "invalid semantic version"),
            (" 1.2.3", "invalid semantic version"),
            ("V1.2.3", "invalid semantic version"),
            ("1.2.3.4", "invalid semantic version"),
            ("v1.2.3.4", "invalid semantic version"),
            ("12.3.4.1234", "invalid semantic version"),
            ("1.1.2+.123", "invalid semantic version"),
            ("1.0.0-alpha_beta", "invalid semantic version"),
            ("1.0.0-alpha..", "invalid semantic version"),
            ("1.0.0-alpha..1", "invalid semantic version"),
            ("1.2.3-dev..1", "invalid semantic version"),
            ("9.8.7+meta+meta", "invalid semantic version"),
            ("1.2.3-", "invalid semantic version"),
            ("\u0661.2.3", "invalid semantic version"),
        ],
    ),
    *cases(
        "numeric prerelease identifier with leading zero",
        [
            ("1.2.3-alpha.01", "version segment starts with 0"),
            ("1.2.3-beta.01", "version segment starts with 0"),
            ("1.2.3-dev.01", "version segment starts with 0"),
            ("1.2.3-023658", "version segment starts with 0"),
            ("1.2.31----RC-SNAPSHOT.12.09.1--.12+788", "version segment starts with 0"),
        ],
    ),
    *cases(
        "number overflows uint64",
        [
            ("18446744073709551616", OVERFLOW.format("18446744073709551616")),
            ("1.99999999999999999999999", OVERFLOW.format("99999999999999999999999")),
            ("1.2.18446744073709551616-beta", OVERFLOW.format("18446744073709551616")),
            ("v" + "9" * 5000, OVERFLOW.format("9" * 5000)),
        ],
    ),
]


@pytest.mark.parametrize(("text", "message"), LOOSE_INVALID)
def test_parse_loose_rejects_with_reference_text(text: str, message: str) -> None:
    with pytest.raises(VersionError) as caught:
        Version.parse_loose(text)
    assert str(caught.value) == message


def test_parsing_is_memoised_by_text() -> None:
    assert Version.parse_strict("3.4.5") is Version.parse_strict("3.4.5")
    assert Version.parse_loose("v3.4") is Version.parse_loose("v3.4")


def test_version_built_directly_gets_canonical_original() -> None:
    assert str(Version(1, 2, 3)) == "1.2.3"
    assert str(Version(1, 2, 3, "rc.1", "b7")) == "1.2.3-rc.1+b7"
    assert Version(1, 2, 3, "rc.1") == Version.parse_strict("1.2.3-rc.1")


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("v1.02", "1.2.0"), ("1", "1.0.0"), ("v1.2-rc.1+b", "1.2.0-rc.1+b"), ("1.2.3", "1.2.3")],
)
def test_canonical_form_is_masterminds_string(text: str, canonical: str) -> None:
    version = Version.parse_loose(text)
    assert (version.canonical(), version.original) == (canonical, text)


def test_version_is_immutable_and_survives_copy_and_pickle() -> None:
    version = Version.parse_loose("v1.2-rc.1+b")
    with pytest.raises(AttributeError):
        version.major = 2  # type: ignore[misc]
    for clone in (copy.deepcopy(version), pickle.loads(pickle.dumps(version))):
        assert clone == version
        assert clone.original == "v1.2-rc.1+b"
        assert clone.compare(Version.parse_strict("1.2.0")) == -1


# --- Ordering -------------------------------------------------------------------------

ORDERING = [
    *cases(
        "numbers compare numerically",
        [
            ("1.2.3", "1.5.1", -1),
            ("2.2.3", "1.5.1", 1),
            ("2.2.3", "2.2.2", 1),
            ("1.3", "1.1.4", 1),
            ("1.10.0", "1.9.0", 1),
            ("1.2.3", "1.2.3", 0),
        ],
    ),
    *cases(
        "release is above its prereleases",
        [
            ("4.2", "4.2-beta", 1),
            ("4.2-beta", "4.2", -1),
            ("8.1.0-SNAPSHOT", "8.1.0", -1),
            ("8.1.0-SNAPSHOT", "8.0.9", 1),
        ],
    ),
    *cases(
        "prerelease identifiers compare pairwise",
        [
            ("3.2-beta", "3.2-beta", 0),
            ("4.2-alpha", "4.2-beta", -1),
            ("4.2-alpha", "4.2-alpha", 0),
            ("4.2-beta.2", "4.2-beta.1", 1),
            ("4.2-beta2", "4.2-beta1", 1),
            ("3.2.0-beta.1", "3.2.0-beta.5", -1),
            ("3.2-beta.4", "3.2-beta.2", 1),
            ("1.0.0-rc.10", "1.0.0-rc.9", 1),
            ("1.0.0-Alpha", "1.0.0-alpha", -1),
        ],
    ),
    *cases(
        "numeric identifier is below alphanumeric",
        [
            ("7.43.0-SNAPSHOT.99", "7.43.0-SNAPSHOT.103", -1),
            ("7.43.0-SNAPSHOT.FOO", "7.43.0-SNAPSHOT.103", 1),
            ("7.43.0-SNAPSHOT.99", "7.43.0-SNAPSHOT.BAR", -1),
            ("1.0.0-beta.4", "1.0.0-beta.-2", -1),
            ("1.0.0-beta.-2", "1.0.0-beta.-3", -1),
            ("1.0.0-beta.-3", "1.0.0-beta.5", 1),
        ],
    ),
    *cases(
        "digits beyond uint64 compare as text",
        [
            ("1.0.0-18446744073709551616", "1.0.0-2", 1),
            ("1.0.0-18446744073709551615", "1.0.0-18446744073709551616", -1),
            ("1.0.0-18446744073709551616", "1.0.0-a", -1),
        ],
    ),
    *cases(
        "missing identifier is smaller",
        [
            ("4.2-beta", "4.2-beta.2", -1),
            ("4.2-beta", "4.2-beta.foo", -1),
            ("4.2-beta.2", "4.2-beta", 1),
            ("4.2-beta.foo", "4.2-beta", 1),
        ],
    ),
    *cases(
        "build metadata and v prefix are ignored",
        [
            ("1.2+bar", "1.2+baz", 0),
            ("1.2.3+b1", "1.2.3", 0),
            ("v1.2.3", "1.2.3", 0),
            ("1.2.3-rc.1+x", "1.2.3-rc.1+y", 0),
        ],
    ),
]


@pytest.mark.parametrize(("a", "b", "expected"), ORDERING)
def test_compare(a: str, b: str, expected: int) -> None:
    va, vb = Version.parse_loose(a), Version.parse_loose(b)
    assert va.compare(vb) == expected
    assert vb.compare(va) == -expected
    assert (va < vb, va <= vb, va == vb, va != vb, va >= vb, va > vb) == (
        expected < 0,
        expected <= 0,
        expected == 0,
        expected != 0,
        expected >= 0,
        expected > 0,
    )
    if expected == 0:
        assert hash(va) == hash(vb)


def test_semver_org_precedence_example_sorts_in_order() -> None:
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ]
    parsed = [Version.parse_strict(text) for text in reversed(chain)]
    assert [str(v) for v in sorted(parsed)] == chain


def test_versions_equal_when_only_metadata_differs() -> None:
    a, b = Version.parse_strict("1.2.3+a"), Version.parse_strict("1.2.3+b")
    assert a == b
    assert len({a, b}) == 1
    assert a != Version.parse_strict("1.2.3-a")


def test_version_does_not_compare_with_other_types() -> None:
    version = Version.parse_strict("1.2.3")
    assert version != "1.2.3"
    with pytest.raises(TypeError):
        _ = version < "1.2.4"  # type: ignore[operator]


# --- Constraint checks ----------------------------------------------------------------

EXACT = [
    ("=2.0.0", "1.2.3", False),
    ("=2.0.0", "2.0.0", True),
    ("0.0.0", "1.2.3", False),
    ("1.2.3", "1.2.3", True),
    ("1.2.3", "1.2.4", False),
    ("v1.2.3", "1.2.3", True),
    ("=1.2.3+build", "1.2.3+other", True),
    ("=0", "1", False),
]

EQUALS_DIRTY_IS_TILDE = [
    ("=2.0", "1.2.3", False),
    ("=2.0", "2.0.0", True),
    ("=2.0", "2.0.1", True),
    ("= 2.0", "1.2.3", False),
    ("= 2.0", "2.0.0", True),
    ("4.1", "4.1.0", True),
    ("4.1.x", "4.1.3", True),
    ("1.x", "1.4", True),
    ("0.x.x", "1.2.3", False),
    ("0.0.x", "1.2.3", False),
    ("2", "1", False),
    ("2", "3.4.5", False),
    ("2", "2.1.1", True),
    ("2.1", "2.1.1", True),
    ("2.1", "2.2.1", False),
    ("2.*", "1", False),
    ("2.*", "3.4.5", False),
    ("2.*", "2.1.1", True),
    ("2.1.*", "2.1.1", True),
    ("2.1.*", "2.2.1", False),
    ("1.X", "1.5.0", True),
    ("1.*.*", "1.9.9", True),
    ("1.1-3", "4.3.2", False),
]

WILDCARD_MAJOR = [
    ("*", "1", True),
    ("*", "1.2.3", True),
    ("*", "4.5.6", True),
    ("x", "0.0.1", True),
    ("X.1.2", "7.0.0", True),
    ("=*", "3.0.0", True),
    ("*", "1.2.3-alpha.1", False),
    ("*-0", "1.2.3-alpha.1", True),
    ("~*", "2.1.1", True),
    (">=*", "1.0.0", True),
    (">*", "0.0.0", False),
    (">*", "0.0.1", True),
    ("<*", "1.0.0", False),
    ("!=*", "0.0.0", False),
    ("!=*", "1.0.0", True),
]

# The major-wildcard base 0.0.0 keeps minor/patch closed, so these rules stay narrow.
WILDCARD_MAJOR_QUIRKS = [
    ("<=*", "0.0.9", True),
    ("<=*", "0.1.0", False),
    ("<=*", "1.0.0", False),
    ("^*", "0.0.0", True),
    ("^*", "0.0.1", False),
    ("^*", "1.0.0", False),
]

NOT_EQUAL = [
    ("!=4.1.0", "4.1.0", False),
    ("!=4.1.0", "4.1.1", True),
    ("!=4.1", "4.1.0", False),
    ("!=4.1", "4.1.1", False),
    ("!=4.1", "5.1.0", True),
    ("!=4.1-alpha", "4.1.0", True),
    ("!=4.1-alpha", "4.1.0-alpha", False),
    ("!=4.1-alpha", "4.1.1-alpha", False),
    ("!=4.1-alpha", "4.1.0-beta", True),
    ("!=4.x", "5.1.0", True),
    ("!=4.x", "4.1.0", False),
    ("!=4.1.x", "4.2.0", True),
    ("!=4.2.x", "4.2.3", False),
]

LESS_THAN = [
    ("<11", "0.1.0", True),
    ("<11", "11.1.0", False),
    ("<1.1", "0.1.0", True),
    ("<1.1", "1.1.0", False),
    ("<1.1", "1.1.1", False),
    ("<1.x", "1.1.1", False),
    ("<1.x", "0.1.1", True),
    ("<1.x", "2.0.0", False),
    ("<2.x", "1.1.1", True),
    ("<1.x", "2.1.1", False),
    ("<1.1.x", "1.2.1", False),
    ("<1.1.x", "1.1.500", False),
    ("<1.1.x", "1.0.500", True),
    ("<1.2.x", "1.1.1", True),
    ("< 1.4.1", "1.4.0", True),
    ("< 40.50.10", "40.50.10", False),
    ("<0", "0.0.0-alpha", False),
    ("<0-z", "0.0.0-alpha", True),
]

LESS_OR_EQUAL = [
    ("<=11", "1.2.3", True),
    ("<=11", "12.2.3", False),
    ("<=11", "11.2.3", True),
    ("<=1.1", "1.2.3", False),
    ("<=1.1", "0.1.0", True),
    ("<=1.1", "1.1.0", True),
    ("<=1.1", "1.1.1", True),
    ("<=1.1", "1.2.1", False),
    ("<=1.x", "1.1.0", True),
    ("<=2.x", "3.0.0", False),
    ("<=2.x", "3.1.0", False),
    ("<=1.1.x", "1.2.500", False),
    ("<=4.5", "3.4.0", True),
    ("<=4.5", "3.7.0", True),
    ("<=4.5", "4.6.3", False),
    ("<=1.1", "0.1.0-alpha", False),
    ("<=1.1-a", "0.1.0-alpha", True),
    ("=<1.2", "1.2.9", True),
    ("=<1.2", "1.3.0", False),
    ("<= 1.2.3", "1.2.3", True),
]

GREATER_THAN = [
    (">1.1", "4.1.0", True),
    (">1.1", "1.1.0", False),
    (">11", "11.1.0", False),
    (">11", "12.0.0", True),
    (">11.1", "11.1.0", False),
    (">11.1", "11.1.1", False),
    (">11.1", "11.2.1", True),
    (">0", "0", False),
    (">0", "1", True),
    (">1.2.3-alpha.1", "1.2.3-alpha.2", True),
    (">1.2.3-alpha.1", "1.3.3-alpha.2", True),
    (">0.0.0-0", "0.0.0-alpha", True),
    (">1.x", "1.9.9", False),
    (">1.x", "2.0.0", True),
    (">1.x-0", "2.0.0-beta", True),
    ("> 1.3", "1.4.0", True),
]

GREATER_OR_EQUAL = [
    (">=11", "11.1.2", True),
    (">=11.1", "11.1.2", True),
    (">=11.1", "11.0.2", False),
    (">=1.1", "4.1.0", True),
    (">=1.1", "1.1.0", True),
    (">=1.1", "0.0.9", False),
    (">=0", "0", True),
    (">=0-0", "0.0.1-alpha", True),
    (">=0.0-0", "0.0.1-alpha", True),
    (">=0-0", "0.0.0-alpha", True),
    (">=0.0.0-0", "0.0.0-alpha", True),
    (">=0.0.0-0", "1.2.3", True),
    (">=0.0.0-0", "3.4.5-beta.1", True),
    ("=>1.2", "1.2.0", True),
    ("=> 1.2", "1.1.9", False),
    (">=07.1", "7.1.0", True),
]

TILDE = [
    ("~1.2.3", "1.2.4", True),
    ("~1.2.3", "1.3.4", False),
    ("~1.2", "1.2.4", True),
    ("~1.2", "1.3.4", False),
    ("~1", "1.2.4", True),
    ("~1", "2.3.4", False),
    ("~0.2.3", "0.2.5", True),
    ("~0.2.3", "0.3.5", False),
    ("~1.2.3-beta.2", "1.2.3-beta.4", True),
    ("~1.2.3-beta.2", "1.2.4-beta.2", True),
    ("~1.2.3-beta.2", "1.3.4-beta.2", False),
    ("~0.0.0", "1.2.3", True),
    ("~1", "2.1.1", False),
    ("~1", "1.3.5", True),
    ("~1", "1.4", True),
    ("~1.x", "2.1.1", False),
    ("~1.x", "1.3.5", True),
    ("~1.x", "1.4", True),
    ("~1.1", "1.1.1", True),
    ("~1.1-alpha", "1.1.1-beta", True),
    ("~1.1.1-beta", "1.1.1-alpha", False),
    ("~1.1.1-beta", "1.1.1", True),
    ("~1.2.3", "1.2.5", True),
    ("~1.2.3", "1.2.2", False),
    ("~1.2.3", "1.3.2", False),
    ("~1.1", "1.2.3", False),
    ("~1.3", "2.4.5", False),
    ("~1.3.6-alpha", "1.3.5-beta", False),
    ("~1.3.5-alpha", "1.3.5-beta", True),
    ("~1.3.5-beta", "1.3.5-alpha", False),
    ("~7.x.x", "7.0.0", True),
    ("~7.x.x", "7.17.9", True),
    ("~7.x.x", "8.0.0", False),
    ("~7.x.x", "6.8.0", False),
    ("~7.0.0", "7.0.5", True),
    ("~7.0.0", "7.1.0", False),
    ("~>1.2", "1.2.9", True),
    ("~>1.2", "1.3.0", False),
]

CARET = [
    ("^1.2.3", "1.8.9", True),
    ("^1.2.3", "2.8.9", False),
    ("^1.2.3", "1.2.1", False),
    ("^1.1.0", "2.1.0", False),
    ("^1.2.0", "2.2.1", False),
    ("^1.2.0-alpha.0", "1.2.1-alpha.1", True),
    ("^1.2.0-alpha.0", "1.2.1-alpha.0", True),
    ("^1.2.0-alpha.2", "1.2.0-alpha.1", False),
    ("^1.2", "1.8.9", True),
    ("^1.2", "2.8.9", False),
    ("^1", "1.8.9", True),
    ("^1", "2.8.9", False),
    ("^1.1", "1.1.1", True),
    ("^1.1", "4.3.2", False),
    ("^1.x", "1.1.1", True),
    ("^2.x", "1.1.1", False),
    ("^1.x", "2.1.1", False),
    ("^1.1.2-alpha", "1.2.1-beta1", True),
    ("^1.2.x-alpha", "1.1.1-beta1", False),
    ("^1.1.1-alpha", "1.1.1-beta", True),
    ("^1.1.1-beta", "1.1.1-alpha", False),
    ("^7.6.0", "7.12.2", True),
    ("^7.6.0", "7.0.2", False),
]

CARET_ZERO_MAJOR = [
    ("^0.2.3", "0.2.5", True),
    ("^0.2.3", "0.5.6", False),
    ("^0.2.3", "0.2.3", True),
    ("^0.2.3", "0.2.2", False),
    ("^0.2.3", "0.3.0", False),
    ("^0.2", "0.2.5", True),
    ("^0.2", "0.5.6", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0.0", "0.0.3", True),
    ("^0.0", "0.1.4", False),
    ("^0.0", "1.0.4", False),
    ("^0", "0.2.3", True),
    ("^0", "1.1.4", False),
    ("^0.0.0", "1.2.3", False),
    ("^0.0.1", "0.0.1", True),
    ("^0.0.1", "0.3.1", False),
    ("^0.0.1", "0.1.3", False),
    ("^0.2.3-beta.2", "0.2.3-beta.4", True),
    ("^0.2.3-beta.2", "0.2.4-beta.2", True),
    ("^0.2.3-beta.2", "0.3.4-beta.2", False),
    ("^0.2.3-beta.2", "0.2.3-beta.2", True),
]

AND_GROUPS = [
    (">1.1, <2", "1.1.1", False),
    (">1.1, <2", "1.2.1", True),
    (">1.1, <3", "4.3.2", False),
    (">=1.1, <2, !=1.2.3", "1.2.3", False),
    (">1.1 <2", "1.1.1", False),
    (">1.1 <2", "1.2.1", True),
    (">1.1    <3", "4.3.2", False),
    (">=1.1    <2    !=1.2.3", "1.2.3", False),
    ("> 1.1, <     2", "1.1.1", False),
    (">   1.1, <2", "1.2.1", True),
    (">1.1, <  3", "4.3.2", False),
    (">= 1.1, <     2, !=1.2.3", "1.2.3", False),
    ("> 1.1 < 2", "1.1.1", False),
    (">1.1 < 2", "1.2.1", True),
    ("> 1.1    <3", "4.3.2", False),
    (">=1.1    < 2    != 1.2.3", "1.2.3", False),
    (">6.7.0  <7.6.0", "7.0.0", True),
    (">6.7.0  <7.6.0", "7.6.0", False),
    (">6.7.0  <7.6.0", "6.7.0", False),
    (">=1.0.0,<2.0.0", "1.5.0", True),
    (">=1.0.0 ,  <2.0.0", "2.0.0", False),
    ("\t>=1.0.0\n", "1.0.0", True),
    ("12.3.34 ~1.2.3", "12.3.34", False),
]

OR_GROUPS = [
    (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", True),
    (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", False),
    (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", True),
    (">=1.1, <2, !=1.2.3 || > 3", "3.0.0", False),
    (">=1.1, <2, !=1.2.3 || > 3", "1.2.3", False),
    (">=1.1 <2 !=1.2.3 || > 3", "4.1.2", True),
    (">=1.1 <2 !=1.2.3 || > 3", "3.1.2", False),
    (">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", True),
    (">= 1.1, <2, != 1.2.3 || > 3", "3.1.2", False),
    (">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", True),
    (">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", False),
    (">=1.1 < 2 !=1.2.3 || > 3", "1.2.3", False),
    ("^7.16.0 || ^8.0.0", "8.5.0", True),
    ("^7.16.0 || ^8.0.0", "7.17.0", True),
    ("^7.16.0 || ^8.0.0", "7.15.0", False),
    ("^7.16.0 || ^8.0.0", "9.0.0", False),
    (">= 1.2.3 < 2.0 || => 3.0 < 4", "3.5.0", True),
    (">= 1.2.3 < 2.0 || => 3.0 < 4", "2.5.0", False),
]

HYPHEN_RANGES = [
    ("1.1 - 2", "1.1.1", True),
    ("1.5.0 - 4.5", "3.7.0", True),
    ("1.0.0 - 2.0.0", "2.0.0", True),
    ("1.0.0 - 2.0.0", "2.0.1", False),
    ("1.0.0 - 2.0.0", "0.9.9", False),
    ("1.1 - 3", "4.3.2", False),
    ("1.x - 2.x", "2.9.9", True),
    ("1 - 2 || 5 - 6", "5.5.0", True),
    ("1 - 2 || 5 - 6", "3.0.0", False),
    ("3 - 4 || => 3.0, < 4", "4.0.0", True),
    ("1.0.0-alpha - 1.0.0", "1.0.0-beta", True),
    ("1.0.0 - 2.0.0 <=2.0.0", "1.5.0", True),
    ("1.0.0 - 2.0.0, <=2.0.0", "1.5.0", True),
]

PRERELEASE_RULE = [
    ("!=4.1", "5.1.0-alpha.1", False),
    ("!=4.1.0", "5.1.0-alpha.1", False),
    (">0", "0.0.1-alpha", False),
    (">0.0", "0.0.1-alpha", False),
    (">0-0", "0.0.1-alpha", False),
    (">0.0-0", "0.0.1-alpha", False),
    (">0", "0.0.0-alpha", False),
    (">0-0", "0.0.0-alpha", False),
    (">=0", "0.0.1-alpha", False),
    (">=0.0", "0.0.1-alpha", False),
    (">=0", "0.0.0-alpha", False),
    (">=1.1", "4.1.0-beta", False),
    ("^1.2.0", "1.2.1-alpha.1", False),
    ("^1.x", "1.1.1-beta1", False),
    ("^1.1", "1.1.1-alpha", False),
    ("~1.1", "1.1.1-alpha", False),
    ("~1", "1.3.5-beta", False),
    ("~1.x", "1.3.5-beta", False),
    ("^8.0.0", "8.1.0-SNAPSHOT", False),
    (">=8.1.0-0", "8.1.0-SNAPSHOT", True),
    ("^8.0.0 || >=8.1.0-0", "8.1.0-SNAPSHOT", True),
    ("^8.0.0, >=8.1.0-0", "8.1.0-SNAPSHOT", True),
    (">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta", True),
    (">= 1.0.0  <= 2.0.0-beta", "1.0.1", True),
    (">= 1.0.0  <= 2.0.0-beta", "3.0.0", False),
    (">= 1.0.0  <= 2.0.0-beta || > 3", "1.0.1-beta", True),
    (">= 1.0.0  <= 2.0.0-beta || > 3", "3.0.1-beta", False),
    (">= 1.0.0  <= 2.0.0-beta != 1.0.1 || > 3", "1.0.1-beta", True),
    (">= 1.0.0  <= 2.0.0-beta != 1.0.1-beta || > 3", "1.0.1-beta", False),
    (">= 1.0.0-0  <= 2.0.0", "1.0.1-beta", True),
]

CONSTRAINT_CHECKS = [
    *cases("exact match", EXACT),
    *cases("= with wildcard or missing part acts as ~", EQUALS_DIRTY_IS_TILDE),
    *cases("wildcard major", WILDCARD_MAJOR),
    *cases("wildcard major keeps minor and patch closed", WILDCARD_MAJOR_QUIRKS),
    *cases("!=", NOT_EQUAL),
    *cases("<", LESS_THAN),
    *cases("<= and =<", LESS_OR_EQUAL),
    *cases(">", GREATER_THAN),
    *cases(">= and =>", GREATER_OR_EQUAL),
    *cases("~ and ~>", TILDE),
    *cases("^", CARET),
    *cases("^ with major 0", CARET_ZERO_MAJOR),
    *cases("comma or whitespace is AND", AND_GROUPS),
    *cases("|| is OR", OR_GROUPS),
    *cases("hyphen range", HYPHEN_RANGES),
    *cases("prerelease needs a prerelease in its OR group", PRERELEASE_RULE),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), CONSTRAINT_CHECKS)
def test_constraint_check(constraint: str, version: str, expected: bool) -> None:
    parsed = Constraint.parse(constraint)
    candidate = Version.parse_loose(version)
    assert parsed.check(candidate) is expected
    assert parsed.check(candidate) is expected  # second call answers from the memo
    assert parsed.original == constraint


IMPROPER = [
    *cases(
        "not a constraint",
        [
            ("foo", 'improper constraint: "foo"'),
            (">= bar", 'improper constraint: ">= bar"'),
            ("BAR >= 1.2.3", 'improper constraint: "BAR >= 1.2.3"'),
            ("> = 1.0", 'improper constraint: "> = 1.0"'),
            ("==1.0", 'improper constraint: "==1.0"'),
            ("1.2.3 foo", 'improper constraint: "1.2.3 foo"'),
        ],
    ),
    *cases(
        "empty constraint or group",
        [
            ("", 'improper constraint: ""'),
            ("   ", 'improper constraint: "   "'),
            ("1.0.0 ||", 'improper constraint: ""'),
            ("||1.0.0", 'improper constraint: ""'),
            ("1.0.0 || || 2.0.0", 'improper constraint: " "'),
        ],
    ),
    *cases(
        "four numbers",
        [
            ("12.3.4.1234", 'improper constraint: "12.3.4.1234"'),
            ("12.23.4.1234", 'improper constraint: "12.23.4.1234"'),
            ("12.3.34.1234", 'improper constraint: "12.3.34.1234"'),
        ],
    ),
    *cases(
        "items need a separator, one comma at most",
        [
            ("12.3.34~ 1.2.3", 'improper constraint: "12.3.34~ 1.2.3"'),
            (">1.0<2.0", 'improper constraint: ">1.0<2.0"'),
            (">=1.0.0,", 'improper constraint: ">=1.0.0,"'),
            (">=1.0.0,,<2", 'improper constraint: ">=1.0.0,,<2"'),
            (",>=1.0.0", 'improper constraint: ",>=1.0.0"'),
        ],
    ),
    *cases(
        "the failing group is quoted as split, untrimmed",
        [
            (">=1.0.0 || foo", 'improper constraint: " foo"'),
            ("1 || foo || bar", 'improper constraint: " foo "'),
        ],
    ),
    *cases(
        "hyphen ranges are rewritten before validation",
        [
            ("1.0.0 - 2.0.0 foo", 'improper constraint: ">= 1.0.0, <= 2.0.0 foo"'),
            ("1 - 2,foo", 'improper constraint: ">= 1, <= 2 ,foo"'),
        ],
    ),
    *cases(
        "only Go whitespace separates",
        [
            ("\v1.0", 'improper constraint: "\\v1.0"'),
            (">=1.0.0 \u00a0", 'improper constraint: ">=1.0.0 \\u00a0"'),
            (">=1.0.0\u2003<2", 'improper constraint: ">=1.0.0\\u2003<2"'),
        ],
    ),
    *cases(
        "Go %q quoting",
        [
            ('foo"bar', 'improper constraint: "foo\\"bar"'),
            ("a\\b", 'improper constraint: "a\\\\b"'),
            ("\tfoo\n", 'improper constraint: "\\tfoo\\n"'),
            ("\a\b\f\r", 'improper constraint: "\\a\\b\\f\\r"'),
            ("\x01\x7f", 'improper constraint: "\\x01\\x7f"'),
            ("\u00fcber", 'improper constraint: "\u00fcber"'),
            ("\u200b", 'improper constraint: "\\u200b"'),
            ("\U0001f600", 'improper constraint: "\U0001f600"'),
            ("\U000e0001", 'improper constraint: "\\U000e0001"'),
            ("a\udcffb", 'improper constraint: "a\\xffb"'),
        ],
    ),
    *cases(
        "well formed item whose version cannot be built",
        [
            ("v1.2.3-beta.01", "constraint parser error"),
            ("1|2", "constraint parser error"),
            ("1x", "constraint parser error"),
            (">=99999999999999999999", "constraint parser error"),
            ("^1.0.0 || 1.2.3-01", "constraint parser error"),
        ],
    ),
]


@pytest.mark.parametrize(("text", "message"), IMPROPER)
def test_constraint_parse_rejects_with_reference_text(text: str, message: str) -> None:
    with pytest.raises(ConstraintError) as caught:
        Constraint.parse(text)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


VALID_SHAPES = cases(
    "accepted constraint shape",
    [
        (">= 1.1", "1.1.0"),
        (">40.50.60, < 50.70", "41.0.0"),
        ("2.0", "2.0.0"),
        ("v2.3.5-20161202202307-sha.e8fc5e5", "2.3.5-20161202202307-sha.e8fc5e5"),
        ("v1.2.3-0abc", "1.2.3-0abc"),
        (">= 1.2.3 < 2.0", "1.2.3"),
        (">= 1.2.3, < 2.0 || => 3.0, < 4", "3.0.0"),
        ("12.3.34 ~1.2.3", "12.3.34"),
        ("1.2.3+build.5", "1.2.3"),
        ("=1.5", "1.5.0"),
    ],
)


@pytest.mark.parametrize(("text", "accepted"), VALID_SHAPES)
def test_constraint_parse_accepts(text: str, accepted: str) -> None:
    constraint = Constraint.parse(text)
    assert str(constraint) == text
    assert repr(constraint) == f"Constraint({text!r})"
    # 12.3.34 and ~1.2.3 cannot both hold: the point is that the text parses.
    assert constraint.check(Version.parse_loose(accepted)) is (text != "12.3.34 ~1.2.3")


def test_constraint_parse_is_memoised_by_text() -> None:
    assert Constraint.parse("^8.0.0") is Constraint.parse("^8.0.0")


# --- Properties -----------------------------------------------------------------------

_numbers = st.one_of(st.integers(0, 30), st.integers(0, 2**64 - 1))
_numeric_identifiers = st.integers(0, 2**70).map(str)
_alphanumeric_identifiers = st.from_regex(r"[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*", fullmatch=True)
_prerelease = st.lists(
    st.one_of(_numeric_identifiers, _alphanumeric_identifiers), min_size=0, max_size=4
).map(".".join)
_metadata = st.lists(st.from_regex(r"[0-9A-Za-z-]+", fullmatch=True), max_size=3).map(".".join)


@st.composite
def version_texts(draw: st.DrawFn) -> str:
    text = f"{draw(_numbers)}.{draw(_numbers)}.{draw(_numbers)}"
    prerelease = draw(_prerelease)
    if prerelease:
        text += "-" + prerelease
    metadata = draw(_metadata)
    if metadata:
        text += "+" + metadata
    return text


_small_versions = st.builds(
    Version,
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.sampled_from(["", "", "0", "1", "alpha", "alpha.1", "alpha.beta", "beta.2", "rc.1"]),
    st.sampled_from(["", "b1"]),
)


@given(version_texts())
def test_strict_round_trip(text: str) -> None:
    version = Version.parse_strict(text)
    assert str(version) == text
    rebuilt = Version(
        version.major, version.minor, version.patch, version.prerelease, version.metadata
    )
    assert rebuilt.original == text
    assert Version.parse_strict(str(rebuilt)) == version
    assert Version.parse_loose(text) == version
    assert Version.parse_loose("v" + text) == version


@given(st.lists(st.one_of(_small_versions, version_texts().map(Version.parse_strict))))
def test_sorting_agrees_with_pairwise_compare(versions: list[Version]) -> None:
    ordered = sorted(versions)
    assert ordered == sorted(versions, key=functools.cmp_to_key(Version.compare))
    for i, a in enumerate(ordered):
        for b in ordered[i:]:
            assert a.compare(b) <= 0
            assert a.compare(b) == -b.compare(a)
            assert (a.compare(b) == 0) == (a == b)
            if a == b:
                assert hash(a) == hash(b)


@given(_small_versions, _small_versions, _small_versions)
def test_compare_is_transitive(a: Version, b: Version, c: Version) -> None:
    if a.compare(b) <= 0 and b.compare(c) <= 0:
        assert a.compare(c) <= 0


@given(
    st.integers(1, 5),
    st.integers(0, 5),
    st.integers(0, 5),
    st.builds(
        Version,
        st.integers(0, 7),
        st.integers(0, 7),
        st.integers(0, 7),
        st.sampled_from(["", "", "rc.1"]),
    ),
)
def test_caret_with_nonzero_major_means_same_major_and_not_lower(
    major: int, minor: int, patch: int, version: Version
) -> None:
    base = Version(major, minor, patch)
    expected = not version.prerelease and version.major == major and version >= base
    assert Constraint.parse(f"^{major}.{minor}.{patch}").check(version) is expected


@given(_small_versions, _small_versions)
def test_comparison_operators_match_single_item_constraints(a: Version, b: Version) -> None:
    release = Version(a.major, a.minor, a.patch)
    base = str(Version(b.major, b.minor, b.patch, b.prerelease))
    order = release.compare(b)
    with_prerelease = bool(b.prerelease)
    expected = {
        "<": order < 0,
        "<=": order <= 0,
        ">": order > 0,
        ">=": order >= 0,
        "=": order == 0,
        "!=": order != 0,
    }
    for op, result in expected.items():
        assert Constraint.parse(f"{op}{base}").check(release) is result, op
        if with_prerelease:
            assert (
                Constraint.parse(f"{op}{base}").check(a)
                is (
                    {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "=": a == b, "!=": a != b}[
                        op
                    ]
                )
            ), op
