//! Discovery: from an email address to candidate servers, each keeping where it
//! came from. Sources, in order of trust: the built-in provider table, RFC 6186 /
//! RFC 8314 SRV records, MX-based provider recognition, Mozilla autoconfig, and
//! host-name guesses (as Thunderbird's account setup does).

pub mod autoconfig;
pub mod dns;
pub mod domain;
pub mod lookup;
pub mod providers;
