//! The Elelem workspace's own package: it holds the examples under `examples/`, the
//! end-to-end tests under `tests/` and the benchmarks under `benches/`. The library
//! itself is the `elelem` crate in `crates/elelem`.
