"""Pure file rules: names, media type reconciliation, byte ranges, tus metadata, tokens,
the GraphQL multipart map."""

from __future__ import annotations

import time

import pytest

from app.errors import AppError
from app.files.http import _parse_range, parse_upload_metadata
from app.files.media import MediaError, reconcile
from app.files.names import content_disposition, sanitise_name
from app.files.tokens import UPLOAD_KEY, UPLOAD_TOKEN, FileTokens, UploadGrant
from schema.http_request import RequestError, params_from_multipart


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ann\\secret.docx", "secret.docx"),
        ("a\x00b\x1fc.txt", "abc.txt"),
        ("evil\u202egnp.exe", "evilgnp.exe"),  # right-to-left override: a classic disguise
        ("  ...hidden  ", "hidden"),
        ('quo"te<>|?*.png', "quo_te_____.png"),
        ("", "file"),
        ("/", "file"),
        ("x" * 300 + ".jpeg", "x" * 250 + ".jpeg"),
    ],
)
def test_names_are_made_plain_and_safe(raw: str, clean: str) -> None:
    assert sanitise_name(raw) == clean


def test_content_disposition_has_an_ascii_fallback_and_the_utf8_name() -> None:
    header = content_disposition('Größe "1".pdf', inline=False)
    assert header == "attachment; filename=\"Groe _1_.pdf\"; filename*=UTF-8''Gr%C3%B6%C3%9Fe%20%221%22.pdf"
    assert content_disposition("a.png", inline=True).startswith("inline;")


@pytest.mark.parametrize(
    ("declared", "sniffed", "stored"),
    [
        ("image/jpg", "image/jpeg", "image/jpeg"),
        ("audio/mp3", "audio/mpeg", "audio/mpeg"),
        ("audio/mp4", "video/mp4", "audio/mp4"),  # a voice note in an MP4 container
        ("application/pdf", "application/pdf", "application/pdf"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/zip",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("text/plain", None, "text/plain"),
        ("application/octet-stream", "image/png", "image/png"),
    ],
)
def test_declared_types_the_bytes_agree_with_are_kept(declared: str, sniffed: str | None, stored: str) -> None:
    assert reconcile(declared, sniffed) == stored


@pytest.mark.parametrize(
    ("declared", "sniffed"),
    [
        ("image/png", "image/jpeg"),  # another image format
        ("image/png", None),  # no image at all
        ("image/png", "application/pdf"),
        ("video/mp4", "audio/mpeg"),
        ("application/pdf", "image/png"),  # media hidden behind a document type
        ("application/pdf", "application/x-msdownload"),
    ],
)
def test_bytes_that_contradict_the_declared_type_are_refused(declared: str, sniffed: str | None) -> None:
    with pytest.raises(MediaError):
        reconcile(declared, sniffed)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-10", (990, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=0-0, 5-9", (0, 0)),
        ("bytes=1000-", None),
        ("bytes=5-4", None),
        ("bytes=-0", None),
        ("bytes=-", None),
        ("items=0-5", None),
    ],
)
def test_byte_ranges(header: str, expected: tuple[int, int] | None) -> None:
    assert _parse_range(header, 1000) == expected


def test_tus_upload_metadata() -> None:
    assert parse_upload_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential") == {
        "filename": "world_domination_plan.pdf",
        "is_confidential": "",
    }
    for bad in ("filename not-base64!", "a b c", "a,,b"):
        with pytest.raises(AppError):
            parse_upload_metadata(bad)


def test_tokens_are_bound_to_their_kind_and_secret_and_expire() -> None:
    tokens = FileTokens("a" * 40)
    grant = UploadGrant(file_id="f" * 32, user_id=7, size=10, purpose="message", expires_at=int(time.time()) + 60)
    token = tokens.issue(UPLOAD_TOKEN, grant)
    assert tokens.check(UPLOAD_TOKEN, token) == grant
    with pytest.raises(AppError) as info:
        tokens.check(UPLOAD_KEY, token)  # an upload token is not an upload key
    assert info.value.code.value == "UNAUTHENTICATED"
    with pytest.raises(AppError) as info:
        FileTokens("b" * 40).check(UPLOAD_TOKEN, token)
    assert info.value.code.value == "UNAUTHENTICATED"
    with pytest.raises(AppError) as info:
        tokens.check(UPLOAD_TOKEN, token, now=grant.expires_at + 1)
    assert info.value.code.value == "TOKEN_EXPIRED"
    signature = tokens.sign_download("f" * 32, 7, 2_000_000_000)
    assert tokens.check_download("f" * 32, "7", "2000000000", signature, now=time.time()) == 7
    for user, expires, sig in (("8", "2000000000", signature), ("7", "2000000001", signature), ("7", "x", signature)):
        with pytest.raises(AppError):
            tokens.check_download("f" * 32, user, expires, sig, now=time.time())


def test_the_multipart_map_puts_files_at_null_placeholders_in_variables() -> None:
    upload = object()
    form = {
        "operations": '{"query": "mutation($i: FileUploadInput!) { fileUpload(input: $i) { file { id } } }", '
        '"variables": {"i": {"file": null, "purpose": "MESSAGE"}}}',
        "map": '{"0": ["variables.i.file"]}',
        "0": upload,
    }
    params = params_from_multipart(form)
    assert params.variables == {"i": {"file": upload, "purpose": "MESSAGE"}}
    for broken in (
        {**form, "map": '{"0": ["query"]}'},  # only into variables
        {**form, "map": '{"0": ["variables.i.purpose"]}'},  # not a null placeholder
        {**form, "map": '{"0": ["variables.nothing.here"]}'},
        {**form, "map": '{"1": ["variables.i.file"]}'},  # no such file
        {**form, "map": "[]"},
        {k: v for k, v in form.items() if k != "map"},
        {**form, "operations": "[{}]"},  # batches
    ):
        with pytest.raises(RequestError):
            params_from_multipart(broken)
