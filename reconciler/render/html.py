"""The inventory as ONE self-contained HTML page, for audits.

Everything is inline -- CSS, and an SVG loss chart per model with snapshots --
and there is no script, font or image to fetch, so the file opens the same
offline, in a mail attachment or years later in an archive.
"""

from __future__ import annotations

from html import escape

from reconciler.render.chart import svg_chart
from reconciler.render.escape import printable
from reconciler.render.inventory import (
    STATUS_STYLES,
    TABLE_HEADERS,
    InventoryView,
    shown_columns,
    summary_line,
    table_cells,
)

# Badge colours per status (background, text); unknown statuses get grey.
_BADGES = {
    "managed": ("#e6f4ea", "#137333"),
    "drifted": ("#fef7e0", "#b06000"),
    "in-flight": ("#e8f0fe", "#1967d2"),
    "failed": ("#fce8e6", "#c5221f"),
    "unmanaged": ("#f3e8fd", "#8430ce"),
    "missing": ("#fce8e6", "#a50e0e"),
}
assert set(_BADGES) == set(STATUS_STYLES), "every status needs a badge colour"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem;
       color: #202124; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
.meta { color: #5f6368; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e0e0e0;
         vertical-align: top; }
th { background: #f8f9fa; position: sticky; top: 0; }
td.name, td.address { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; }
.badge { display: inline-block; padding: .1rem .5rem; border-radius: .75rem; font-weight: 600;
         font-size: .75rem; white-space: nowrap; }
.totals { margin: 1rem 0 2rem; font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; border: 1px solid #e0e0e0; border-radius: .5rem; padding: .5rem; }
figcaption { font-family: ui-monospace, monospace; font-size: .8rem; color: #5f6368; }
svg text { font-size: 11px; fill: #3c4043; }
svg text.title { font-size: 12px; font-weight: 600; }
"""


def _badge(status: str) -> str:
    background, foreground = _BADGES.get(status, ("#eee", "#333"))
    return (
        f'<span class="badge badge-{escape(status)}" '
        f'style="background:{background};color:{foreground}">{escape(status)}</span>'
    )


def render_html(inventory: InventoryView, *, generated_at: str, endpoint: str | None = None) -> str:
    """The audit page: inventory table with status badges, totals, and one chart per curve."""
    shown = shown_columns(inventory)
    head = "".join(f"<th>{escape(TABLE_HEADERS[i].title())}</th>" for i in shown)
    body_rows = []
    classes = (
        "name",
        "status",
        "address",
        "source",
        "state",
        "created",
        "updated",
        "display",
        "evaluation",
        "detail",
    )
    for row in inventory.rows:
        cells = table_cells(row)
        tds = []
        for index in shown:
            content = _badge(str(row.status)) if index == 1 else escape(cells[index])
            tds.append(f'<td class="{classes[index]}">{content}</td>')
        body_rows.append(
            f'<tr class="model" data-name="{escape(printable(row.name))}" '
            f'data-status="{escape(str(row.status))}">' + "".join(tds) + "</tr>"
        )
    figures = []
    for row in inventory.rows:
        if not any(s.mean_loss is not None for s in row.snapshots):
            continue
        chart = svg_chart(row.snapshots, title=printable(row.display_name or row.name))
        name = escape(printable(row.name))
        figures.append(
            f'<figure class="chart" data-name="{name}">{chart}'
            f"<figcaption>{name} &middot; {len(row.snapshots)} snapshots"
            f"</figcaption></figure>"
        )
    source = f" from {escape(endpoint)}" if endpoint else ""
    charts_section = (
        '<div class="charts">' + "\n".join(figures) + "</div>"
        if figures
        else '<p class="meta">No model has tuning snapshots yet.</p>'
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tuned model inventory</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Tuned model inventory</h1>
<p class="meta">Generated {escape(generated_at)}{source} by reconciler inventory.</p>
<table id="inventory">
<thead><tr>{head}</tr></thead>
<tbody>
{chr(10).join(body_rows)}
</tbody>
</table>
<p class="totals" id="totals">{escape(summary_line(inventory))}</p>
<h2>Loss curves</h2>
{charts_section}
</body>
</html>
"""
