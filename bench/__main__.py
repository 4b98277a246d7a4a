"""`python -m bench` (or `make bench`): run every benchmark in this folder."""

from bench import serving

if __name__ == "__main__":
    serving.main()
