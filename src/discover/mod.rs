//! Discovery: from an email address to candidate servers, each keeping where it
//! came from. Sources, in order of trust: mailcheck's provider overrides and the
//! ISPDB snapshot built into it ([`providers`]), Thunderbird's ISPDB online
//! ([`ispdb`]), RFC 6186 / RFC 8314 SRV records ([`dns`]), MX-based provider
//! recognition, Mozilla autoconfig ([`autoconfig`]), Microsoft Autodiscover
//! ([`autodiscover`]), and host-name guesses, as Thunderbird's account setup
//! does; [`lookup`] runs them all and merges what they say. Every web request
//! goes through [`fetch`], every fetched XML document through [`xml`]; all of it
//! within [`cutoff`]'s deadline.

pub mod autoconfig;
pub mod autodiscover;
pub mod cutoff;
pub mod dns;
pub mod domain;
pub mod fetch;
pub mod ispdb;
pub mod lookup;
mod merge;
pub mod providers;
pub mod xml;
