"""``python -m accessflow.bench``: the benchmark without an installed ``accessflow-bench``."""

from accessflow.bench.cli import bench

bench(prog_name="accessflow-bench")
