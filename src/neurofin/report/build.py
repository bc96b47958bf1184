"""`build_report`: one self-contained HTML file from encoding packages, ROI scores and a market backtest.

Every input is optional (at least one is needed); a section whose input is missing is left out.
"""

from __future__ import annotations

from pathlib import Path

from neurofin.errors import InputError
from neurofin.io import write_bytes_atomic
from neurofin.paths import user_cache_dir
from neurofin.report.html import page, paragraph

TITLE = "neurofin report"


def default_flatmap_cache() -> Path:
    """pycortex's pixel-map cache for flatmaps: under the user cache dir, never inside the dataset."""
    return user_cache_dir("pycortex")


def build_report(
    out: str | Path,
    packages: str | Path | None = None,
    data_root: str | Path | None = None,
    atlas_cache: str | Path | None = None,
    rois: str | Path | None = None,
    backtest: str | Path | None = None,
    flatmap_cache: str | Path | None = None,
    explanations: str | Path | None = None,
) -> Path:
    """Write the report to `out` (atomically) and return its path."""
    from neurofin.encoding.package import package_dirs

    if packages is None and rois is None and backtest is None:
        raise InputError("nothing to report: pass --packages, --rois and/or --backtest")
    if explanations is not None and rois is None:
        raise InputError("--explanations is shown in the ROI-predictions section: pass --rois with it")
    package_list = package_dirs(packages) if packages is not None else []
    sections, header = [], []
    if backtest is not None:  # read first: a wrong backtest folder fails before the slower encoding section
        from neurofin.report.market import market_section

        market, verdict = market_section(Path(backtest))
    if package_list:
        from neurofin.report.encoding import Anatomy, encoding_section

        anatomy = None
        if data_root is not None:
            anatomy = Anatomy.open(Path(data_root), Path(atlas_cache) if atlas_cache else None,
                                   Path(flatmap_cache) if flatmap_cache else default_flatmap_cache())
        sections.append(encoding_section(package_list, anatomy))
    if rois is not None:
        from neurofin.report.inference import inference_section

        sections.append(inference_section(Path(rois), Path(explanations) if explanations else None))
    if backtest is not None:
        sections.append(market)
        header.append(paragraph(verdict, "verdict"))
    from neurofin.report.provenance import provenance_block

    header.append(provenance_block(package_list, Path(rois) if rois else None, Path(backtest) if backtest else None,
                                   Path(explanations) if explanations else None))
    out = Path(out)
    write_bytes_atomic(out, page(TITLE, header, sections).encode("utf-8"))
    return out

