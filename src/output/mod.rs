//! Renderers: each writes a [`Report`](crate::report::Report) to any `io::Write`.
//! Colour is decided once, by the caller, through `colored`'s global override.

pub mod human;
pub mod json;
pub mod nagios;
pub mod settings;
#[cfg(test)]
mod snapshots;
