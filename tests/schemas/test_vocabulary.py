"""The vocabularies as data: a product field never takes a company's name silently (the rule is the vocabulary's,
with its exceptions written in the YAML); the names added in the warehouse extend what the kinds resolve, and
settle an ambiguity."""

from __future__ import annotations

from schemas.kinds import AMBIGUOUS, Invalid, ParseOptions
from schemas.spec import load_schema
from schemas.vocabulary import AddedEntry, AddedName, Additions, code_form, vocabulary

TECH = load_schema("tech_companies").fields
SURVEY = load_schema("children_youth").fields


def parse(field: str, value: str, options: ParseOptions | None = None, fields=TECH):  # type: ignore[no-untyped-def]
    spec = fields[field]
    return spec.field_kind.parser(spec, options or ParseOptions())(value)


def test_a_product_named_like_a_company_is_ambiguous_unless_the_vocabulary_says_it_is_the_product() -> None:
    assert parse("product", "Google") == Invalid(check=AMBIGUOUS)  # Google Search, or all of Alphabet?
    assert parse("company", "Google") == ("alphabet", "Google")
    # `product_first` on the product's entry: a name it shares with its own company means the product
    for name, code in {"Snapchat": "snapchat", "Snap": "snapchat", "Twitter": "x", "Facebook": "facebook"}.items():
        assert parse("product", name) == (code, name)
    assert vocabulary("platform").ambiguous == {"google": ("platform google_search", "company alphabet")}
    assert parse("platforms_named", "instagram;google", fields=SURVEY) == Invalid("google", (["instagram"],))


def test_added_names_extend_the_vocabularies_and_settle_ambiguities() -> None:
    additions = Additions(
        entries=(AddedEntry("company", "kik", "Kik Interactive"), AddedEntry("platform", "kik", "Kik", "kik")),
        names=(AddedName("platform", "Google", "all"), AddedName("company", "Kik Interactive Inc", "kik")),
    )
    options = ParseOptions(additions=additions)
    assert parse("product", "Google", options) == ("all", "Google")
    assert parse("company", "kik interactive, inc.", options) == ("kik", "kik interactive, inc.")
    assert parse("company", "KIK INTERACTIVE", options) == ("kik", "KIK INTERACTIVE")  # the new entry's label
    assert parse("platforms_named", "Kik;TikTok", options, SURVEY) == (["kik", "tiktok"],)
    assert additions.vocabulary("platform").entries["kik"]["company"] == "kik"
    assert vocabulary("platform").resolve("Kik") is None  # the committed vocabulary is left as it is
    assert additions.vocabulary("channel") is vocabulary("channel")


def test_a_source_authoritative_for_a_fields_names_gives_new_ones_a_code() -> None:
    options = ParseOptions(adds_names=frozenset({"company"}))
    assert parse("company", "Omegle.com LLC", options) == ("omeglecom_llc", "Omegle.com LLC")
    assert parse("product", "Omegle", options) is None  # not authoritative for the product's names
    assert parse("company", "x" * 121, options) is None  # too long to be a name
    taken = Additions(entries=(AddedEntry("company", "acme", "Acme Holdings"),))
    assert taken.vocabulary("company").new_code("Acme") == "acme_2"  # another entry has the code
    assert len(code_form("The " + "very " * 20 + "long name")) == 40
