"""Test-only helpers live in neurofin.testing, and the product never imports them."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "neurofin"


def test_no_product_module_imports_neurofin_testing():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(PACKAGE / "testing"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(PACKAGE)}: {n}" for n in names if n.startswith("neurofin.testing")]
    assert not offenders


def test_the_moved_helpers_left_the_product_modules():
    import neurofin.market.comments.tickers as tickers
    import neurofin.market.evaluate.backtest as backtest
    import neurofin.market.forecast.models as models
    import neurofin.timing as timing

    assert not hasattr(models, "save_random_chronos2") and not hasattr(timing, "story_design")
    assert not hasattr(backtest, "evaluate") and not hasattr(tickers.TickerUniverse, "restricted_to")
    assert not (PACKAGE / "market" / "planted.py").exists()
