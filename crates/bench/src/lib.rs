//! Support for `make bench`: see `src/bin/` and `e2e/bench/`.
