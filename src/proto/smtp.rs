//! smtp dialogue (placeholder until implemented).
