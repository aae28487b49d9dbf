//! pop3 dialogue (placeholder until implemented).
