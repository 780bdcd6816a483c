"""Self-contained HTML pages with Plotly figures, small enough to mail (alsim-report, alsim-compare).

Inlining plotly.js as text costs 4.8 MB per page before a single figure. It is inlined gzip-compressed
instead (about 1.9 MB as base64) and unpacked by the browser (DecompressionStream); the figures' own scripts
wait in inert `<script type="text/x-alsim-figure">` tags and run once Plotly is there. The page still needs
no network.
"""
from __future__ import annotations

import base64
import functools
import gzip
import re

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

FIGURE_SCRIPT = "text/x-alsim-figure"
LOADER = """<script>
(async () => {
  const packed = Uint8Array.from(atob(document.getElementById("alsim-plotly").textContent), c => c.charCodeAt(0));
  const code = await new Response(new Blob([packed]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
  (0, eval)(code);  /* global scope: defines window.Plotly */
  for (const s of document.querySelectorAll('script[type="%s"]')) (0, eval)(s.textContent);
  document.body.dataset.figures = "drawn";
})();
</script>""" % FIGURE_SCRIPT


@functools.lru_cache(maxsize=1)
def packed_plotlyjs() -> str:
    """plotly.js, gzip-compressed (fixed mtime: the same page bytes for the same figures) and base64-encoded."""
    return base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


def figure_html(fig: go.Figure) -> str:
    """One figure's div and its (deferred) drawing script."""
    text = pio.to_html(fig, include_plotlyjs=False, full_html=False, auto_play=False)
    deferred = re.sub(r'<script(?: type="text/javascript")?>', f'<script type="{FIGURE_SCRIPT}">', text)
    if deferred.count(FIGURE_SCRIPT) != text.count("<script"):  # a Plotly that writes its tags otherwise
        raise RuntimeError("figure_html: Plotly's script tags were not recognised; figures would not be drawn")
    return deferred


def plotly_loader() -> str:
    """Put once at the end of the page's body: the packed plotly.js and the script that draws every figure."""
    return ("<!-- plotly.js, gzip-compressed and base64-encoded: the page needs no network -->\n"
            f'<script type="application/octet-stream" id="alsim-plotly">{packed_plotlyjs()}</script>\n{LOADER}')
