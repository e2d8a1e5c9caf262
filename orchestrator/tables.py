"""Rendering a table (header + rows of strings) as markdown, csv, latex (booktabs) or html."""

import csv
import html
import io

FORMATS = ("markdown", "csv", "latex", "html")


def render(headers: list[str], rows: list[list[str]], fmt: str, caption: str = "") -> str:
    if fmt == "markdown":
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines + ([f"\n{caption}"] if caption else [])) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return buffer.getvalue()
    if fmt == "latex":
        def escape(text: str) -> str:
            for char, replacement in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#")):
                text = text.replace(char, replacement)
            return text.replace("±", r"$\pm$")

        lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "r" * (len(headers) - 1) + "}", r"\toprule"]
        lines.append(" & ".join(escape(h) for h in headers) + r" \\")
        lines.append(r"\midrule")
        lines += [" & ".join(escape(cell) for cell in row) + r" \\" for row in rows]
        lines += [r"\bottomrule", r"\end{tabular}"]
        if caption:
            lines.append(r"\caption{" + escape(caption) + "}")
        lines.append(r"\end{table}")
        return "\n".join(lines) + "\n"
    if fmt == "html":
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>\n" for row in rows)
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        return f"<table>{cap}\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
