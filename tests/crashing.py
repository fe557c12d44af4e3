"""A calculator mixin for crash tests: counts evaluations, raises on the ``crash_at``-th."""


class Crashing:
    """Mixin before an ASE calculator class: ``calls`` counts evaluations, and the
    ``crash_at``-th raises ``RuntimeError("simulated crash")`` (a crash between checkpoints)."""

    def __init__(self, crash_at=None, **kwargs):
        super().__init__(**kwargs)
        self.calls, self.crash_at = 0, crash_at

    def calculate(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.crash_at:
            raise RuntimeError("simulated crash")
        super().calculate(*args, **kwargs)
