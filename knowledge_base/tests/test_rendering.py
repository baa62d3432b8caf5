"""Markdown rendering and sanitising: nothing executable survives."""

import re

import pytest

from knowledge_base.rendering import extract_links, render_markdown

XSS_CORPUS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    '<img src=x onerror="alert(1)">',
    "<img src=x onerror=alert(1)//>",
    '<body onload="alert(1)">',
    '<svg onload="alert(1)"><circle r="1"/></svg>',
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="https://evil.example"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="https://evil.example/x.swf"></object>',
    '<embed src="https://evil.example/x.swf">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1) )",
    "![img](javascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<p style="background:url(javascript:alert(1))">styled</p>',
    '<div style="position:fixed;top:0">overlay</div>',
    "<style>body{display:none}</style>",
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<form action="https://evil.example"><input name="p"><button>go</button></form>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    "<!--<img src=x onerror=alert(1)>-->",
    '<a href="#" onclick="alert(1)">x</a>',
    '<details open ontoggle="alert(1)">x</details>',
    '<base href="https://evil.example/">',
    '<code class="language-x" onmouseover="alert(1)">c</code>',
    '<video><source onerror="alert(1)"></video>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
]

DANGEROUS = [
    re.compile(r"<\s*(script|iframe|object|embed|style|link|meta|form|input|svg|math|base|video|source)\b", re.I),
    re.compile(r"\son\w+\s*=", re.I),
    re.compile(r"javascript:", re.I),
    re.compile(r"vbscript:", re.I),
    re.compile(r"(src|href)\s*=\s*[\"']?\s*data:", re.I),
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"\ssrcdoc\s*=", re.I),
]


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_nothing_dangerous_survives(payload):
    html = render_markdown(payload)
    for pattern in DANGEROUS:
        assert not pattern.search(html), f"{pattern.pattern!r} survived in {html!r}"


def test_markdown_features_are_kept():
    html = render_markdown(
        "# Title\n\n**bold** _em_ `code`\n\n```python\nprint('x')\n```\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "- one\n- two\n\n> quote\n\n![alt](https://img.example/a.png)"
    )
    for fragment in [
        "<h1>Title</h1>",
        "<strong>bold</strong>",
        "<em>em</em>",
        "<code>code</code>",
        '<code class="language-python">',
        '<th align="left">a</th>',
        '<td align="right">2</td>',
        "<li>one</li>",
        "<blockquote>",
        '<img alt="alt" src="https://img.example/a.png">',
    ]:
        assert fragment in html


def test_links_keep_safe_schemes_and_get_rel():
    html = render_markdown("[a](https://example.com) [b](mailto:help@example.com) [c](/help/faq/)")
    assert html.count('rel="noopener noreferrer nofollow"') == 3
    assert 'href="https://example.com"' in html
    assert 'href="mailto:help@example.com"' in html
    assert 'href="/help/faq/"' in html


def test_author_supplied_rel_is_replaced():
    html = render_markdown('<a href="https://example.com" rel="opener">x</a>')
    assert 'rel="noopener noreferrer nofollow"' in html
    assert 'rel="opener"' not in html


def test_unexpected_classes_are_dropped():
    html = render_markdown('<p class="admin-banner">x</p><code class="language-js evil">y</code>')
    assert "class" not in html


def test_text_is_escaped():
    assert render_markdown("1 < 2 & 3 > 2") == "<p>1 &lt; 2 &amp; 3 &gt; 2</p>"


def test_empty_content_renders_empty():
    assert render_markdown("") == ""


def test_extract_links_lists_absolute_http_links_once_in_order():
    text = (
        "[one](https://example.com/a) and <http://example.org/b?x=1&y=2> and [again](https://example.com/a)\n\n"
        "![image](https://img.example/p.png) [rel](/help/x) [mail](mailto:a@example.com) [js](javascript:alert(1))\n\n"
        '<a href="https://html.example/c">html link</a>'
    )
    assert extract_links(text) == [
        "https://example.com/a",
        "http://example.org/b?x=1&y=2",
        "https://img.example/p.png",
        "https://html.example/c",
    ]


def test_extract_links_of_plain_text_is_empty():
    assert extract_links("no links here, just www.example.com text") == []
