"""`python -m bench` (or `make bench`): Kennel's production stack against its references and
its peer, in one run (bench/run.py). `python -m bench.serving` compares granian with gunicorn."""

from bench.run import entry

if __name__ == "__main__":
    entry()
