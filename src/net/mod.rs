//! Network plumbing: name resolution, TCP connections, TLS with a recording
//! verifier, the one bounded I/O driver that runs any dialogue, and the HTTP
//! client that autoconfig and OAuth2 build on.
//!
//! Nothing here decides what an outcome means for the user; it reports what
//! happened with enough precision for `probe` to classify it.

pub mod connect;
pub mod driver;
pub mod http;
pub mod limit;
pub mod resolve;
pub mod tls;
pub mod trace;

use tokio::io::{AsyncRead, AsyncWrite};

/// Any byte stream a dialogue can run over: TCP, or TLS on top of it.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A boxed [`Stream`], so a STARTTLS upgrade can swap the type underneath.
pub type BoxStream = Box<dyn Stream>;
