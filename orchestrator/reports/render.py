"""Rendering a table (header + rows of strings) as markdown, csv, latex (booktabs) or html.

``bold`` holds (row, column) positions to emphasise (csv stays plain, to parse as values).
"""

import csv
import html
import io


def _emphasise(rows: list[list[str]], bold: set, wrap) -> list[list[str]]:
    return [[wrap(cell) if (i, j) in bold else cell for j, cell in enumerate(row)] for i, row in enumerate(rows)]


def _markdown(headers: list[str], rows: list[list[str]], caption: str, bold: set) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in _emphasise(rows, bold, lambda c: f"**{c}**")]
    return "\n".join(lines + ([f"\n{caption}"] if caption else [])) + "\n"


def _csv(headers: list[str], rows: list[list[str]], caption: str, bold: set) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()


def _latex_escape(text: str) -> str:
    for char, replacement in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
        text = text.replace(char, replacement)
    for char, replacement in (("±", r"$\pm$"), ("Δ", r"$\Delta$"), ("−", "-"), ("<", r"$<$")):
        text = text.replace(char, replacement)
    return text


def _latex(headers: list[str], rows: list[list[str]], caption: str, bold: set) -> str:
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "r" * (len(headers) - 1) + "}", r"\toprule"]
    lines.append(" & ".join(_latex_escape(h) for h in headers) + r" \\")
    lines.append(r"\midrule")
    escaped = _emphasise([[_latex_escape(cell) for cell in row] for row in rows], bold, lambda c: r"\textbf{" + c + "}")
    lines += [" & ".join(row) + r" \\" for row in escaped]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption:
        lines.append(r"\caption{" + _latex_escape(caption) + "}")
    lines.append(r"\end{table}")
    return "\n".join(lines) + "\n"


def _html(headers: list[str], rows: list[list[str]], caption: str, bold: set) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    escaped = _emphasise([[html.escape(cell) for cell in row] for row in rows], bold, lambda c: f"<b>{c}</b>")
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>\n" for row in escaped)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


_RENDERERS = {"markdown": _markdown, "csv": _csv, "latex": _latex, "html": _html}
FORMATS = tuple(_RENDERERS)


def render(headers: list[str], rows: list[list[str]], fmt: str, caption: str = "", bold: set = frozenset()) -> str:
    """The table in one of FORMATS (csv drops the caption and emphasis, to stay parseable)."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return _RENDERERS[fmt](headers, rows, caption, bold)
