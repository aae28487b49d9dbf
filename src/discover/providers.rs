//! The built-in provider table (placeholder until implemented).
