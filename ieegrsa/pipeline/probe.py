"""Write a network probe's tables, settings and report (``ieegrsa probe``)."""

from __future__ import annotations

from pathlib import Path

from ..bids import write_json, write_tsv
from ..bids.derivatives import software_versions

__all__ = ["write_probe"]


def write_probe(result, out_dir, *, report: bool = True) -> dict[str, Path]:
    """Write the probe tables (TSV + JSON sidecar each), the settings and the HTML report.

    Parameters
    ----------
    result : ieegrsa.probing.probe.ProbeResult
        What :func:`ieegrsa.probing.probe.probe` returned.
    out_dir : path-like
        Folder of the files: ``<network>_desc-<table>_probe.tsv`` (empty tables are not
        written), the settings and software versions in ``<network>_probe.json`` (written
        last) and the report ``<network>_probe.html``.
    report : bool
        Write the HTML report.

    Returns
    -------
    written : dict
        Paths by table kind, ``report`` and ``settings``.
    """
    from ..probing.probe import probe_columns

    out_dir = Path(out_dir)
    name = str(result.settings.get("network", "network")).replace("/", "-")
    extra = {"Settings": result.settings, "SoftwareVersions": software_versions()}
    written = {}
    for kind, table in result.tables().items():
        if table.empty:
            continue
        written[kind] = write_tsv(table, out_dir / f"{name}_desc-{kind}_probe.tsv",
                                  columns=probe_columns(table), extra=extra)
    if report:
        from ..report import probe_report

        written["report"] = probe_report(result, out_dir / f"{name}_probe.html")
    written["settings"] = write_json(
        {**extra, "Files": {k: p.name for k, p in written.items()}},
        out_dir / f"{name}_probe.json")
    return written
