"""Raw input for prediction: listing, decoding, units and the reasons junk is set aside."""

from pathlib import Path

import pandas as pd
import pytest

from conftest import write_jsonl
from topicstance.inputs import Limits, list_files, read_units
from topicstance.textcodec import decode

LIMITS = Limits()


def units(path: Path, cache_dir=None):
    return [u for f in list_files(path) for u in read_units(f, LIMITS, cache_dir)]


def good(us):
    return [(u.article_id, u.text) for u in us if not u.reason]


def bad(us):
    return [(Path(u.file).name, u.line, u.reason) for u in us if u.reason]


HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sanctions widened | Example News</title></head>
<body>
<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/sport">Sport</a></nav>
<main><article>
<h1>Britain widens sanctions on Russian shipping</h1>
<p>The UK has imposed its biggest sanctions package against Russia in nearly two years, targeting
shipping companies accused of moving oil above the price cap for the Kremlin.</p>
<p>The foreign ministry said it had sanctioned fifty-six bodies and individuals, aiming to hurt
Russia's war effort and to disrupt the supply of components for drones.</p>
<p>Officials in Moscow called the measures illegal and promised a response, while ministers in
London said more pressure would follow if the attacks on Ukrainian cities continue.</p>
</article></main>
<footer>Copyright Example News. All rights reserved.</footer>
</body></html>
"""


def test_txt_page_is_one_unit_keyed_by_its_path(tmp_path):
    page = tmp_path / "page_one.txt"
    page.write_text("Headline\nBody line one.\n", encoding="utf-8")
    (u,) = units(page)
    assert (u.article_id, u.text, u.key, u.encoding) == (
        "page_one", "Headline\nBody line one.\n", str(page), "utf-8")
    assert len(u.content_hash) == 64


def test_html_main_text_is_extracted(tmp_path):
    (tmp_path / "story.html").write_text(HTML_PAGE, encoding="utf-8")
    (tmp_path / "empty.html").write_text("<html><head><title>t</title></head><body></body></html>",
                                         encoding="utf-8")
    us = units(tmp_path)
    ((article_id, text),) = good(us)
    assert article_id == "story"
    assert "biggest sanctions package against Russia" in text and "components for drones" in text
    assert "<p>" not in text and "Copyright" not in text
    assert bad(us) == [("empty.html", 0, "no article text found in the HTML")]


def test_html_headline_printed_outside_the_article_body_is_kept_first(tmp_path):
    """The headline is the context of every segment: a page header's <h1>, which trafilatura
    leaves out of the main text, comes back as the first line (once, where the body has it)."""
    outside = HTML_PAGE.replace("<main><article>\n<h1>", "<header><h1>").replace(
        "</h1>\n<p>The UK", "</h1></header>\n<main><article>\n<p>The UK")
    (tmp_path / "header.html").write_text(outside, encoding="utf-8")
    (tmp_path / "inside.html").write_text(HTML_PAGE, encoding="utf-8")
    texts = dict(good(units(tmp_path)))
    for name in ("header", "inside"):
        lines = texts[name].splitlines()
        assert lines[0] == "Britain widens sanctions on Russian shipping", name
        assert lines[1].startswith("The UK has imposed its biggest sanctions package"), name


def test_jsonl_records_and_their_problems(tmp_path):
    path = write_jsonl(tmp_path / "batch.jsonl", [
        {"id": "a1", "text": "First article text."},            # 1
        {"text": "Second article, no id."},                      # 2
        '{"id": "a3", "text": "unterminated',                    # 3 bad JSON
        {"id": "a4", "title": "no text"},                        # 4 missing text
        "",                                                      # 5 blank
        '"just a string"',                                       # 6 not an object
        {"id": 7, "text": "Numeric id."},                        # 7
    ])
    us = units(path)
    assert good(us) == [("a1", "First article text."), ("batch-2", "Second article, no id."),
                        ("7", "Numeric id.")]
    assert [u.key for u in us if not u.reason] == [f"{path}#a1", f"{path}:2", f"{path}#7"]
    problems = bad(us)
    assert [(name, line) for name, line, _ in problems] == [("batch.jsonl", 3), ("batch.jsonl", 4),
                                                            ("batch.jsonl", 6)]
    assert "not valid JSON" in problems[0][2] and "'text'" in problems[1][2]
    assert "expected a JSON object" in problems[2][2]


def test_records_naming_their_article_are_grouped_into_it(tmp_path):
    records = [
        {"id": "s1", "article_id": "A", "text": "Rada passes mobilization bill"},    # 1
        {"id": "s2", "article_id": "A", "text": "The vote came on Thursday.\nIt passed."},  # 2
        "{broken",                                                                  # 3
        {"id": "s3", "article_id": "A", "text": "Deputies argued for hours."},       # 4
        {"id": "x", "text": "A record on its own."},                                 # 5
        {"id": "s4", "article_id": "B", "text": "The only segment of B."},           # 6
    ]
    path = write_jsonl(tmp_path / "segs.jsonl", records)
    us = units(path)
    assert bad(us) == [("segs.jsonl", 3, bad(us)[0][2])]
    article, lone, only = [u for u in us if not u.reason]
    assert (article.key, article.article_id, article.line, article.ready_cut) == (
        f"{path}#A", "A", 1, True)
    assert article.text == ("Rada passes mobilization bill\nThe vote came on Thursday. It passed."
                            "\nDeputies argued for hours.")  # a record a line
    assert (lone.key, lone.article_id, lone.ready_cut) == (f"{path}#x", "x", False)
    assert (only.key, only.article_id, only.ready_cut) == (f"{path}#B", "B", False)

    records[3]["text"] = "Deputies argued for two hours."  # one record changed: the article too
    regrouped = [u for u in units(write_jsonl(path, records)) if not u.reason]
    assert regrouped[0].key == article.key and regrouped[0].content_hash != article.content_hash
    assert [u.content_hash for u in regrouped[1:]] == [lone.content_hash, only.content_hash]


def test_parquet_records_and_a_corrupt_file(tmp_path):
    pd.DataFrame({"id": ["p1", "p2", "p3"],
                  "text": ["Parquet article one.", "", "Parquet article three."]}) \
        .to_parquet(tmp_path / "batch.parquet", index=False)
    (tmp_path / "corrupt.parquet").write_bytes(b"this is not a parquet file at all")
    us = units(tmp_path, cache_dir=tmp_path / "cache")
    assert good(us) == [("p1", "Parquet article one."), ("p3", "Parquet article three.")]
    assert sorted((name, line) for name, line, _ in bad(us)) == [("batch.parquet", 2),
                                                                 ("corrupt.parquet", 0)]


def test_folders_are_walked_recursively_in_path_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.txt").write_text("Two.", encoding="utf-8")
    (tmp_path / "one.txt").write_text("One.", encoding="utf-8")
    write_jsonl(tmp_path / "a.jsonl", [{"id": "j1", "text": "Jsonl one."}])
    assert [a for a, _ in good(units(tmp_path))] == ["j1", "b/two", "one"]
    with pytest.raises(FileNotFoundError):
        list_files(tmp_path / "nowhere")


def test_the_output_folder_is_never_read_back(tmp_path):
    (tmp_path / "page.txt").write_text("A page.", encoding="utf-8")
    (tmp_path / "out" / "quarantine").mkdir(parents=True)
    (tmp_path / "out" / "quarantine" / "part-1.jsonl").write_text('{"text": "x"}\n')
    assert [f.rel for f in list_files(tmp_path, exclude=tmp_path / "out")] == ["page.txt"]


@pytest.mark.parametrize("raw, expected", [
    ("Café in Kyiv".encode(), ("Café in Kyiv", "utf-8", "")),
    ("Café \u201cquoted\u201d".encode("cp1252"), ("Café \u201cquoted\u201d", "cp1252", "")),
    (b"%PDF-1.7 ...", ("", "", "binary file (PDF), not text")),
    (b"abc\x00def", ("", "", "binary file (NUL bytes), not text")),
    ("\ufeffKyiv, 5 May\r\n".encode("utf-16-le"), ("Kyiv, 5 May\r\n", "utf-16", "")),
    ("\ufeffKyiv".encode("utf-16-be"), ("Kyiv", "utf-16", "")),
    ("\ufeff  ".encode("utf-16-le"), ("", "", "empty file")),
    (b"  \n ", ("", "", "empty file")),
])
def test_decode(raw, expected):
    assert decode(raw) == expected


RUSSIAN = "Москва ответила на санкции Евросоюза: МИД назвал их незаконными."


@pytest.mark.parametrize("raw, declared, expected", [
    (RUSSIAN.encode("cp1251"), None, (RUSSIAN, "cp1251", "")),  # no declaration: misread caught
    (RUSSIAN.encode("koi8_r"), "koi8-r", (RUSSIAN, "koi8-r", "")),
    ("Le ministère a déclaré à Kyiv, « déjà » trop tard.".encode("cp1252"), None,
     ("Le ministère a déclaré à Kyiv, « déjà » trop tard.", "cp1252", "")),
    ("\u201cQuoted\u201d \u2013 Kyiv".encode("cp1252"), "cp1252",
     ("\u201cQuoted\u201d \u2013 Kyiv", "cp1252", "")),
    (b"Caf\xe9", "no-such-charset", ("Café", "cp1252", "")),
])
def test_decode_legacy_encodings(raw, declared, expected):
    assert decode(raw, declared) == expected


def test_html_pages_are_read_in_the_charset_they_declare(tmp_path):
    page = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
            f"</head><body><article><h1>Новости</h1><p>{RUSSIAN} {RUSSIAN}</p></article></body></html>")
    (tmp_path / "ru.html").write_bytes(page.encode("cp1251"))
    (tmp_path / "latin.html").write_bytes(
        '<meta charset="ISO-8859-1"><p>\u201cQuoted\u201d in Kyiv, the minister said so today.</p>'
        .encode("cp1252"))
    ru, latin = sorted(units(tmp_path), key=lambda u: u.article_id, reverse=True)
    assert (ru.encoding, latin.encoding) == ("cp1251", "cp1252")
    assert RUSSIAN in ru.text and "\u201cQuoted\u201d" in latin.text


def test_oversized_records_and_lines_are_quarantined(tmp_path):
    write_jsonl(tmp_path / "big.jsonl", [{"id": "x", "text": "word " * 300_000}])
    (tmp_path / "dump.txt").write_text("y" * 25_000, encoding="utf-8")
    problems = bad(units(tmp_path))
    assert [(name, line) for name, line, _ in problems] == [("big.jsonl", 1), ("dump.txt", 0)]
    assert "a line of 1,500,000 characters is not prose" in problems[0][2]
    assert "a line of 25,000 characters is not prose" in problems[1][2]
    small = Limits(max_record_mb=1.0)
    (record,) = [u for f in list_files(tmp_path / "big.jsonl") for u in read_units(f, small)]
    assert record.reason == "record of 1.4 MB exceeds max_record_mb=1"


def test_html_saved_as_txt_is_read_as_html(tmp_path):
    (tmp_path / "scraped.txt").write_text(
        "<!-- saved by the scraper -->\n<!DOCTYPE html><html><body><nav>Home | World</nav>"
        "<article><h1>EU adopts new sanctions on Russia</h1><p>The European Union adopted its "
        "latest package of sanctions against Russia on Friday, aimed at the shadow fleet.</p>"
        "</article></body></html>", encoding="utf-8")
    (unit,) = units(tmp_path)
    assert "<" not in unit.text and "EU adopts new sanctions on Russia" in unit.text


def test_parquet_without_text_column_is_quarantined_once(tmp_path):
    pd.DataFrame({"body": [f"row {i}" for i in range(50)]}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"text": [1, 2]}).to_parquet(tmp_path / "b.parquet")
    write_jsonl(tmp_path / "c.jsonl", [{"text": "Kyiv said drones hit Odesa."}, {"text": 7}])
    assert bad(units(tmp_path)) == [("a.parquet", 0, "no 'text' column (columns: body)"),
                                    ("b.parquet", 1, "'text' is int, not a string"),
                                    ("b.parquet", 2, "'text' is int, not a string"),
                                    ("c.jsonl", 2, "'text' is int, not a string")]


def test_pages_not_in_english_are_quarantined(tmp_path):
    french = ("Le ministère des Affaires étrangères a déclaré lundi que les nouvelles sanctions "
              "de l'Union européenne contre la Russie étaient illégales et auraient des "
              "conséquences pour les entreprises européennes présentes sur le marché russe.")
    english = ("In the last 24 hours Inhulets, Novodmytrivka, Tomyna Balka, Bilozerka, Beryslav, "
               "Dniprovske and Veletenske came under Russian shelling, the regional military "
               "administration said, and two civilians were wounded in Kherson.")
    # French of short words: 22% of them are on scikit-learn's English stop-word list ("a",
    # "de", "on", "en"...), above English news; none on the list the filter uses
    french_short_words = ("On a appris lundi que le ministre a de nouveau refusé de commenter les "
                          "sanctions. Il a dit qu'on en parlera à Bruxelles, mais on ne sait pas "
                          "encore quand. Selon lui, la décision a été prise de concert avec les "
                          "alliés, et elle a reçu le soutien de la majorité des députés.")
    (tmp_path / "fr.txt").write_text(f"Sanctions: Moscou réagit\n\n{french}\n", encoding="utf-8")
    (tmp_path / "fr2.txt").write_text(french_short_words, encoding="utf-8")
    (tmp_path / "ru.txt").write_text(" ".join([RUSSIAN] * 5), encoding="utf-8")
    (tmp_path / "en.txt").write_text(f"Shelling in Kherson region\n\n{english}\n", encoding="utf-8")
    (tmp_path / "short.txt").write_text(RUSSIAN, encoding="utf-8")  # under 30 words: not judged
    found = [u for f in list_files(tmp_path)
             for u in read_units(f, Limits(min_english_share=0.05))]
    assert sorted(good(found)) == sorted([("en", f"Shelling in Kherson region\n\n{english}\n"),
                                          ("short", RUSSIAN)])
    assert [(name, reason.split(":")[0]) for name, _, reason in bad(found)] == [
        ("fr.txt", "not English"), ("fr2.txt", "not English"), ("ru.txt", "not English")]
    assert not bad(units(tmp_path))  # off by default (the predict config turns it on)
