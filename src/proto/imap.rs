//! imap dialogue (placeholder until implemented).
