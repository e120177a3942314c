"""Answer text that tries to load a remote image or make an active link (issue 20 item 2):
each payload the render tests and the browser test put into answers and pages."""

from __future__ import annotations


def hostile_markdown(evil: str, source: str) -> dict[str, str]:
    """Payload name -> text; `evil` is a URL that must never be loaded or linked, `source`
    the URL of the answer's source (the one link target allowed)."""
    return {
        "escaped-backtick": f"a \\` ![x]({evil}) `",
        "unequal-backtick-runs": f"``a` ![x]({evil}) ```",
        "unequal-backtick-runs-closing": f"x `a`` ![x]({evil}) ``",
        "reference-image": f"See ![x][img] and ![img].\n\n[img]: {evil}",
        "reference-link": "[click][r] and [r].\n\n[r]: javascript:alert(1)",
        "reference-citation": f"It caches [1].\n\n[1]: {evil}",
        "html-entities": f"&#33;[x]({evil}) &#x21;&#91;x&#93;({evil}) "
        "[y](java&#115;cript:alert(1))",
        "entity-encoded-tag": f"&lt;img src={evil}&gt; &amp;lt;img&amp;gt;",
        "autolinks": f"<{evil}> <javascript:alert(1)> <mailto:a@b.c>",
        "raw-html": f'<img src="{evil}"> <a href="javascript:alert(1)">x</a> <svg onload=alert(1)>',
        "javascript-link": "[x](javascript:alert(1)) [y](JaVaScRiPt:alert(document.cookie))",
        "data-links": "[x](data:text/html;base64,PHNjcmlwdD4=) ![i](data:image/png;base64,iVBO)",
        "javascript-link-forms": "[x](  javascript:alert(1) 'title') [x](\njavascript:alert(1)) "
        "[a [nested] label](javascript:alert(1)) [x](<javascript:alert(1)>) "
        "\\[escaped\\](javascript:alert(1))",
        "vbscript-link": "[x](vbscript:msgbox(1))",
        "nested-image-in-link": f"[![x]({evil})]({source}) [![y]({evil})]({evil})",
        "citation-with-destination": f"[1]({evil}) [1]",
        "link-to-another-site": f"[docs]({evil}) [top](#sources)",
        "image-in-code-block": f"```\n![x]({evil})\n\n<img src={evil}>\n```",
    }
