"""Educators' dashboard (`alsim-dashboard`): run, watch and explain scenarios; explore finished sweeps.

Data flow is one way: inputs → validated config (`sim.presets.compose_config`) → `simulate` +
`write_run_folder` into a run folder under the dashboard's work dir → figures read from that
folder's files (`sim.dashboard.data`). Modules:

    app.py        app factory and the `alsim-dashboard` command
    layout.py     the page (notice banner, run controls, tissue view, curves, sweep view, explain)
    callbacks.py  what happens on clicks, polls and slider moves
    runs.py       background runs: a small process pool, per-tab ownership, progress files
    sweeps.py     reading a finished sweep under `--results`, refusing paths outside it
    data.py       reading one run folder
    explain.py    the explain panel, generated from `sim.config` metadata and model docstrings

NON-CLINICAL: a teaching and research model, not medical advice.
"""
