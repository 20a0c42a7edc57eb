"""Small HTML building blocks: escaped text, tables, inline images. Nothing refers outside."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from typing import Final

#: The page's only style sheet, inline.
STYLE: Final[str] = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-size:.9em;word-break:break-all}.pass{color:#176f2c;font-weight:600}
.fail{color:#b00020;font-weight:600}.muted{color:#666;font-size:.9em}
figure{display:inline-block;margin:.4em .8em .8em 0;vertical-align:top}
figcaption{font-size:.85em;color:#444;max-width:420px}
img.px{image-rendering:pixelated;width:192px;height:192px}
details{margin:.4em 0}summary{cursor:pointer}
""".strip()


def esc(value: object) -> str:
    """HTML-escape ``str(value)`` (quotes too)."""
    return html.escape(str(value), quote=True)


def data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def img(png: bytes, alt: str, css_class: str = "") -> str:
    """An ``<img>`` with the PNG inlined."""
    cls = f' class="{esc(css_class)}"' if css_class else ""
    return f'<img{cls} alt="{esc(alt)}" src="{data_uri(png)}">'


def figure(png: bytes, caption: str, css_class: str = "") -> str:
    """A figure: the inlined image and an escaped caption."""
    return f"<figure>{img(png, caption, css_class)}<figcaption>{esc(caption)}</figcaption></figure>"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = (),
          raw: bool = False) -> str:
    """A table; cells are escaped unless ``raw`` (then they are trusted HTML fragments).

    Args:
        header: column titles.
        rows: cell strings, one sequence per row.
        numeric: indices of columns aligned right.
        raw: the cells are already HTML.
    """
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for k, cell in enumerate(row):
            cls = ' class="num"' if k in numeric else ""
            cells.append(f"<td{cls}>{cell if raw else esc(cell)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(title: str, sections: Iterable[str]) -> str:
    """The whole document: one file, inline style, no script, no external reference."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(sections) + "\n</body></html>\n")
