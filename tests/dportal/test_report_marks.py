"""The upload report marks where two hashes differ, and escapes everything else."""

from __future__ import annotations

from dportal.templatetags.portal import hashes_marked

A = "44fc832e0be9c78d8a59d8b57abd8d8f47e6b2e5e7ed264f111e51d3413f911c"
B = "44fc832e0be9c78d8a59d8b57abd8d8f47e6b2e5e7ed264f111e51d3413f911b"


def test_the_differing_characters_of_two_hashes_are_marked():
    html = str(hashes_marked(f"declared {A}, actual {B}"))
    assert html == f"declared {A[:-1]}<mark>c</mark>, actual {B[:-1]}<mark>b</mark>"


def test_a_conflict_marks_each_declaration_against_the_actual_hash():
    html = str(
        hashes_marked(f"x.yaml is declared with different SHA-256 hashes (a: {A}; b: {B}); its actual hash is {B}")
    )
    assert html.count("<mark>") == 2, "the declaration that differs, and the actual hash against it"
    assert f"b: {B})" in html, "the declaration that matches is not marked"


def test_text_around_the_hashes_is_escaped_and_lone_hashes_are_left_alone():
    html = str(hashes_marked(f"<script>alert(1)</script> {A}"))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<mark>" not in html
