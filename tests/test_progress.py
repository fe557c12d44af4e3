"""Progress bars (aseml_zif/_progress.py): a redirected log gets a line every ~30 s, not one per
redraw; a terminal keeps tqdm's live bar. Time is a fake clock: no wall-clock dependence."""
import io
import re

import pytest
import tqdm.std

from aseml_zif._progress import LOG_INTERVAL_S, progress_bar


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    """A fake clock for tqdm (one tick = 1 s) and no monitor thread."""
    now = [0.0]
    monkeypatch.setattr(tqdm.std, "time", lambda: now[0])
    monkeypatch.setattr(tqdm.std.tqdm, "monitor_interval", 0)
    return now


def drawn_lines(stream):
    """Each redraw of a bar: tqdm separates them by carriage returns (a log viewer's lines)."""
    return [line for line in re.split(r"[\r\n]", stream.getvalue()) if line.strip()]


def run_bar(stream, clock, seconds=600):
    for _ in progress_bar(range(seconds), file=stream, desc="MD"):
        clock[0] += 1.0


def test_log_gets_a_line_every_30_s(clock):
    log = io.StringIO()  # what a redirected stderr is: no terminal
    run_bar(log, clock)
    lines = drawn_lines(log)
    # start, one per 30 s of the 600 s, the final state
    assert len(lines) <= 600 / LOG_INTERVAL_S + 2
    assert "600/600" in lines[-1]


def test_terminal_keeps_live_bar(clock):
    terminal = Terminal()
    run_bar(terminal, clock)
    assert len(drawn_lines(terminal)) > 300  # redrawn in place every 0.1 s (tqdm's default)


def test_caller_interval_wins(clock):
    log = io.StringIO()
    bar = progress_bar(total=10, file=log, mininterval=1.0)
    assert bar.mininterval == 1.0 and bar.maxinterval == LOG_INTERVAL_S
    bar.close()


def test_every_bar_goes_through_the_helper():
    from pathlib import Path

    import aseml_zif

    package = Path(aseml_zif.__file__).parent
    direct = [str(path.relative_to(package)) for path in package.rglob("*.py")
              if path.name != "_progress.py"
              and re.search(r"^\s*(from tqdm|import tqdm)", path.read_text(), re.M)]
    assert direct == []
