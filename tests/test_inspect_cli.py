"""``griddiag inspect`` and ``griddiag demo`` as a scheduler runs them: config file, exit codes,
plain log lines when not on a terminal, and the report's path as the last line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from griddiag.config_file import load_config
from griddiag.exceptions import ConfigError
from griddiag.storage.parquet import ParquetStore


def run(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "griddiag", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory) -> Path:
    from griddiag.sample import generate_utility

    u = generate_utility(meters=10, years=(2025,), meters_per_transformer=5)
    root = tmp_path_factory.mktemp("cli") / "store"
    with ParquetStore(root) as store:
        store.upsert_assets(u.assets)
        store.write(u.readings)
    return root


@pytest.mark.slow
def test_inspect_from_config_file_exit_codes_and_last_line(tiny_store, tmp_path):
    cfg = tmp_path / "griddiag.toml"
    cfg.write_text(f'store = "{tiny_store}"\ntz = "Asia/Shanghai"\nprofile = "default"\n'
                   '[inspect]\nout = "reports/{year}"\nlang = "zh-CN"\n', encoding="utf-8")
    code, out, err = run("inspect", "--config", str(cfg), "--year", "2025")
    assert code == 0, err
    report = Path(out.strip().splitlines()[-1])
    assert report == tmp_path / "reports" / "2025" / "index.html" and report.is_file()
    assert "Traceback" not in err and "inspect 2025: " in err  # plain log lines, no bar
    findings = pl.read_parquet(report.parent / "findings.parquet")
    assert (findings["severity"] == "critical").any()
    for name in ("findings.csv", "yoy.parquet", "summary.json"):
        assert (report.parent / name).is_file()

    # --fail-on: exit 1 when open findings at or above the severity exist; options win
    code, out, err = run("inspect", "--config", str(cfg), "--year", "2025", "--fail-on",
                         "critical", "--out", str(tmp_path / "other"))
    assert code == 1, err
    assert Path(out.strip().splitlines()[-1]) == tmp_path / "other" / "index.html"


def test_inspect_usage_and_store_errors(tmp_path):
    code, _, err = run("inspect", "--store", str(tmp_path / "nowhere"), "--year", "2025")
    assert code == 2 and "--out" in err and err.strip().count("\n") == 0
    code, _, err = run("inspect", "--year", "twenty", "--out", str(tmp_path / "o"))
    assert code == 2 and "twenty" in err
    code, _, err = run("inspect", "--store", str(tmp_path / "nowhere"), "--year", "2025",
                       "--out", str(tmp_path / "o"))
    assert code == 3 and "nowhere" in err and "Traceback" not in err
    bad = tmp_path / "bad.toml"
    bad.write_text('stroe = "x"\n', encoding="utf-8")
    code, _, err = run("inspect", "--config", str(bad), "--year", "2025")
    assert code == 2 and "stroe" in err


def test_config_file_lookup_and_checks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GRIDDIAG_CONFIG", raising=False)
    assert load_config().path is None  # no ./griddiag.toml: an empty config
    (tmp_path / "griddiag.toml").write_text(
        'store = "db"\nholiday_country = "CN"\nprofile = "mine.toml"\n'
        '[inspect]\nbaseline = [2023, 2024]\nfail_on = "warning"\nout = "r"\n',
        encoding="utf-8")
    cfg = load_config()
    assert cfg.store == "db" and cfg.holiday_country == "CN"
    assert cfg.profile == str(tmp_path / "mine.toml")  # relative to the file, not the cwd
    assert cfg.inspect == {"baseline": [2023, 2024], "fail_on": "warning",
                           "out": str(tmp_path / "r")}
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "t.toml").write_text("[inspect]\nbatch_assets = 'many'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="batch_assets"):
        load_config(tmp_path / "t.toml")


@pytest.mark.slow
def test_demo_ends_with_the_report_path(tmp_path):
    code, out, err = run("demo", "--meters", "12", "--out", str(tmp_path / "demo"))
    assert code == 0, err[-3000:]
    report = Path(out.strip().splitlines()[-1])
    assert report.name == "index.html" and report.is_file()
    assert report.is_relative_to(tmp_path / "demo")
    findings = pl.read_parquet(report.parent / "findings.parquet")
    yoy = pl.read_parquet(report.parent / "yoy.parquet")
    assert findings.height > 0 and yoy.height > 0
    assert set(yoy["baseline_years"].unique().to_list()) == {"2023,2024"}
    assert (tmp_path / "demo" / "quarantine" / "quarantine.csv").is_file()
