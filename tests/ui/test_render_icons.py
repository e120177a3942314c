"""A source card shows its site's icon only as a PNG data URI, decorative and at a fixed size."""

from __future__ import annotations

import base64

import pytest

from retrieval.icons import png_data_uri
from tests.support.html_tags import tag_names
from tests.support.media import icon_bytes
from ui.render import render_cards


def _icon() -> str:
    icon = png_data_uri(icon_bytes("GIF", 16))
    assert icon is not None
    return icon


def test_the_card_shows_the_site_icon_beside_the_site_name() -> None:
    icon = _icon()
    source = {"n": 1, "url": "https://harbour.example/logs", "title": "Logs", "icon": icon}
    html = render_cards([source])
    assert (
        f'<span class="source-site"><img class="source-icon" src="{icon}" alt="" width="16" '
        'height="16">harbour.example</span>'
    ) in html


@pytest.mark.parametrize(
    "icon",
    [
        "https://tracker.example/pixel.png",
        "data:image/svg+xml;base64," + base64.b64encode(b"<svg onload=alert(1)/>").decode(),
        "javascript:alert(1)",
        'data:image/png;base64,AAAA" onerror="alert(1)',
        "data:text/html;base64,PHNjcmlwdD4=",
    ],
)
def test_an_icon_that_is_not_a_png_data_uri_is_never_rendered(icon: str) -> None:
    source = {"n": 1, "url": "https://harbour.example/logs", "title": "Logs", "icon": icon}
    html = render_cards([source])
    assert "img" not in tag_names(html) and "<img" not in html
    assert '<span class="source-site">harbour.example</span>' in html
