"""The README's quick tour runs as written, command by command, on synthetic data with the shipped SmolLM2."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
NEUROFIN = str(Path(sys.executable).with_name("neurofin"))


def tour_commands() -> list[str]:
    block = re.search(r"<!-- quick-tour -->\s*```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    return [line.split("   #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_tour_is_a_list_of_neurofin_commands():
    commands = tour_commands()
    assert len(commands) >= 10 and all(c.startswith("neurofin ") for c in commands)
    names = [" ".join(shlex.split(c)[1:3]) for c in commands]
    assert names.index("market ingest") < names.index("infer --config") < names.index("market panel")


@pytest.mark.timeout(1800)
def test_quick_tour_runs_as_written(tmp_path):
    env = {**os.environ, "NEUROFIN_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    for command in tour_commands():
        args, redirect = command, None
        if " > " in command:
            args, redirect = command.split(" > ")
        argv = [NEUROFIN, *shlex.split(args)[1:]]
        proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"`{command}` failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        if redirect:
            (tmp_path / redirect.strip()).write_text(proc.stdout, encoding="utf-8")
    assert (tmp_path / "models" / "UTS01" / "metrics.json").is_file()
    assert "Verdict" in (tmp_path / "backtest" / "summary.json").read_text(encoding="utf-8")
