//! Who is asking, from where, under which request id: what every audit
//! event records besides the action itself.

use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The request id, echoed in the response and in every log line.
    pub request_id: Option<String>,
    /// The source address of the caller, as the server saw it.
    pub source: Option<IpAddr>,
}

impl RequestContext {
    /// The context of an action that the process takes by itself (a
    /// scheduled job, first start, an offline command).
    pub fn system() -> Self {
        Self::default()
    }
}
