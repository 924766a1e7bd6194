//! Who is asking, from where, over what, under which request id: what every
//! audit event records besides the action itself.

use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The request id, echoed in the response and in every log line.
    pub request_id: Option<String>,
    /// The client's address: the peer of the connection, or, when that peer
    /// is a trusted proxy, the client the proxy names (`X-Forwarded-For`).
    pub source: Option<IpAddr>,
    /// How the request reached Rempart; decides whether a credential may be
    /// sent on it.
    pub transport: Transport,
}

/// How a request reached Rempart, as far as it can tell.
///
/// The default, [`Transport::Loopback`], is that of an action the process
/// takes by itself ([`RequestContext::system`]): it crossed no network. The
/// HTTP server always sets the transport it observed, so the default never
/// stands for a remote request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Over TLS: Rempart's own listener, or a trusted proxy that says the
    /// client spoke HTTPS to it.
    Tls,
    /// Plain HTTP from the loopback interface (or in-process): nothing
    /// crossed a network that others can read.
    #[default]
    Loopback,
    /// Plain HTTP from another machine: anything sent could be read on the
    /// way. Credentials are refused on it.
    Plain,
}

impl Transport {
    /// Whether a secret (a password, a token, a bootstrap credential) may be
    /// sent over this transport: anything but plain HTTP across a network.
    pub fn carries_credentials(self) -> bool {
        !matches!(self, Self::Plain)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Loopback => "loopback",
            Self::Plain => "plain",
        }
    }
}

impl RequestContext {
    /// The context of an action that the process takes by itself (a
    /// scheduled job, first start, an offline command).
    pub fn system() -> Self {
        Self::default()
    }
}
