//! Who the client of a request is, and how its request reached Rempart.
//!
//! The source address recorded in the audit log, checked against
//! allow-lists and used for throttling is the peer of the connection,
//! unless that peer is a proxy listed in `server.trusted_proxies`: only then
//! is `X-Forwarded-For` believed, read from the right (the entry the
//! trusted proxy appended) past the other trusted proxies, to the first
//! address that is not one. Anyone can write these headers, so a header
//! from an untrusted peer is ignored, and a malformed one falls back to the
//! peer rather than to a guess.
//!
//! The transport decides whether a credential may be sent (see
//! [`crate::extract::SecureTransport`]):
//!
//! - a trusted proxy that sends `X-Forwarded-Proto` decides it: `https`
//!   (every value, if it lists several) is TLS; anything else is plain
//!   HTTP from the client to the proxy;
//! - otherwise, a connection to Rempart's own TLS listener is TLS;
//! - plain HTTP is "loopback" when the client is a loopback address, and
//!   "plain" otherwise.
//!
//! A proxy on the same machine must be listed in `server.trusted_proxies`
//! and must send both headers: otherwise every request it forwards looks
//! like loopback.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::http::HeaderMap;
use rempart_core::Transport;
use rempart_model::AllowList;

const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// The proxies whose forwarding headers are believed, as a request
/// extension (added by [`crate::app`] from `server.trusted_proxies`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<AllowList>);

/// The effective client of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub source: IpAddr,
    pub transport: Transport,
}

/// The client of a request that arrived from `peer`, on a TLS listener or
/// not, with `headers`, given the trusted proxies.
pub fn client_of(
    peer: IpAddr,
    listener_tls: bool,
    headers: &HeaderMap,
    trusted_proxies: &AllowList,
) -> Client {
    let peer = peer.to_canonical();
    if !trusted_proxies.contains(peer) {
        return Client {
            source: peer,
            transport: direct(listener_tls, peer),
        };
    }
    let source = forwarded_for(headers, trusted_proxies).unwrap_or(peer);
    let transport = match forwarded_proto_is_https(headers) {
        Some(true) => Transport::Tls,
        Some(false) => direct(false, source),
        None => direct(listener_tls, source),
    };
    Client { source, transport }
}

fn direct(tls: bool, client: IpAddr) -> Transport {
    if tls {
        Transport::Tls
    } else if client.is_loopback() {
        Transport::Loopback
    } else {
        Transport::Plain
    }
}

/// The first address from the right of `X-Forwarded-For` (all such
/// headers, in order) that is not a trusted proxy; the leftmost when all
/// are. `None` when the header is absent or anything walked is malformed.
fn forwarded_for(headers: &HeaderMap, trusted_proxies: &AllowList) -> Option<IpAddr> {
    let mut entries = Vec::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        entries.extend(value.to_str().ok()?.split(','));
    }
    let mut leftmost = None;
    for entry in entries.iter().rev() {
        let addr = parse_forwarded_address(entry)?.to_canonical();
        if !trusted_proxies.contains(addr) {
            return Some(addr);
        }
        leftmost = Some(addr);
    }
    leftmost
}

/// An address as proxies write it in `X-Forwarded-For`: bare, or with a
/// port (`192.0.2.1:5000`, `[2001:db8::1]:5000`), or bracketed.
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Some(addr);
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<std::net::Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

/// `Some(true)` when every `X-Forwarded-Proto` value says `https`,
/// `Some(false)` when one says anything else (or cannot be read), `None`
/// when there is no such header.
fn forwarded_proto_is_https(headers: &HeaderMap) -> Option<bool> {
    let mut values = headers.get_all(X_FORWARDED_PROTO).iter().peekable();
    values.peek()?;
    Some(values.all(|value| {
        value.to_str().is_ok_and(|text| {
            text.split(',')
                .all(|proto| proto.trim().eq_ignore_ascii_case("https"))
        })
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn proxies() -> AllowList {
        AllowList::parse(["10.0.0.0/24", "fd00::/64"]).unwrap()
    }

    /// The client address a request from the trusted proxy 10.0.0.1 with
    /// headers `h` is taken to come from.
    fn via_proxy(h: &HeaderMap) -> IpAddr {
        client_of(ip("10.0.0.1"), false, h, &proxies()).source
    }

    #[test]
    fn a_direct_peer_is_the_client_whatever_it_says() {
        let h = headers(&[(X_FORWARDED_FOR, "127.0.0.1"), (X_FORWARDED_PROTO, "https")]);
        let client = client_of(ip("203.0.113.9"), false, &h, &proxies());
        assert_eq!(client.source, ip("203.0.113.9"));
        assert_eq!(client.transport, Transport::Plain);
        // With no trusted proxy at all, nobody's headers count.
        let client = client_of(ip("10.0.0.1"), false, &h, &AllowList::none());
        assert_eq!(client.source, ip("10.0.0.1"));
        assert_eq!(client.transport, Transport::Plain);
    }

    #[test]
    fn the_transport_of_a_direct_connection() {
        let h = HeaderMap::new();
        let none = AllowList::none();
        let of = |peer: &str, tls| client_of(ip(peer), tls, &h, &none).transport;
        assert_eq!(of("127.0.0.1", false), Transport::Loopback);
        assert_eq!(of("127.8.9.1", false), Transport::Loopback);
        assert_eq!(of("::1", false), Transport::Loopback);
        assert_eq!(of("::ffff:127.0.0.1", false), Transport::Loopback);
        assert_eq!(of("192.0.2.2", false), Transport::Plain);
        assert_eq!(of("fd00::2", false), Transport::Plain);
        assert_eq!(of("192.0.2.2", true), Transport::Tls);
        assert_eq!(of("127.0.0.1", true), Transport::Tls);
        // A dual-stack socket's mapped address is recorded as IPv4.
        assert_eq!(
            client_of(ip("::ffff:192.0.2.2"), false, &h, &none).source,
            ip("192.0.2.2")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_rightmost_untrusted_address() {
        let from_proxy = |xff: &str| via_proxy(&headers(&[(X_FORWARDED_FOR, xff)]));
        assert_eq!(from_proxy("198.51.100.7"), ip("198.51.100.7"));
        // The client wrote the leftmost entries itself: they are not believed.
        assert_eq!(from_proxy("1.1.1.1, 198.51.100.7"), ip("198.51.100.7"));
        assert_eq!(
            from_proxy("1.1.1.1, 198.51.100.7, 10.0.0.2, fd00::3"),
            ip("198.51.100.7")
        );
        assert_eq!(from_proxy("[2001:db8::5]:4711"), ip("2001:db8::5"));
        assert_eq!(from_proxy("198.51.100.7:4711"), ip("198.51.100.7"));
        assert_eq!(from_proxy("::ffff:198.51.100.7"), ip("198.51.100.7"));
        // Every hop trusted: the leftmost is the client.
        assert_eq!(from_proxy("10.0.0.9, 10.0.0.2"), ip("10.0.0.9"));
        // Several headers read as one list, in order.
        let h = headers(&[
            (X_FORWARDED_FOR, "1.1.1.1"),
            (X_FORWARDED_FOR, "198.51.100.7, 10.0.0.2"),
        ]);
        assert_eq!(via_proxy(&h), ip("198.51.100.7"));
    }

    #[test]
    fn a_malformed_or_missing_header_leaves_the_peer() {
        for xff in [
            "",
            "unknown",
            "not an address",
            "198.51.100.7,,10.0.0.2",
            "198.51.100.7, 10.0.0.300",
            "[fd00::1",
        ] {
            let source = via_proxy(&headers(&[(X_FORWARDED_FOR, xff)]));
            assert_eq!(source, ip("10.0.0.1"), "{xff:?}");
        }
        let mut h = HeaderMap::new();
        h.insert(
            X_FORWARDED_FOR,
            HeaderValue::from_bytes(b"\xff198.51.100.7").unwrap(),
        );
        assert_eq!(via_proxy(&h), ip("10.0.0.1"));
        assert_eq!(via_proxy(&HeaderMap::new()), ip("10.0.0.1"));
        // Garbage left of the first untrusted address is never read.
        let h = headers(&[(X_FORWARDED_FOR, "garbage, 198.51.100.7")]);
        assert_eq!(via_proxy(&h), ip("198.51.100.7"));
    }

    #[test]
    fn a_trusted_proxy_says_whether_the_client_spoke_tls() {
        let p = proxies();
        let transport = |pairs: &[(&'static str, &str)], listener_tls| {
            client_of(ip("10.0.0.1"), listener_tls, &headers(pairs), &p).transport
        };
        let remote = (X_FORWARDED_FOR, "198.51.100.7");
        // The client's scheme as the proxy says it, whatever our own
        // listener's (the proxy's word beats it); several values: every one
        // must say https.
        let said = |protos: &[&'static str], listener_tls| {
            let mut pairs = vec![remote];
            pairs.extend(protos.iter().map(|p| (X_FORWARDED_PROTO, *p)));
            transport(&pairs, listener_tls)
        };
        for (protos, listener_tls, spoken) in [
            (&["https"][..], false, Transport::Tls),
            (&["HTTPS"], false, Transport::Tls),
            (&["http"], false, Transport::Plain),
            (&["http"], true, Transport::Plain),
            (&["https, http"], false, Transport::Plain),
            (&["https", ""], false, Transport::Plain),
        ] {
            assert_eq!(said(protos, listener_tls), spoken, "{protos:?}");
        }
        // Silent proxy: the connection to Rempart decides.
        assert_eq!(transport(&[remote], false), Transport::Plain);
        assert_eq!(transport(&[remote], true), Transport::Tls);
        // A loopback client of the proxy over http.
        assert_eq!(
            transport(
                &[(X_FORWARDED_FOR, "127.0.0.1"), (X_FORWARDED_PROTO, "http")],
                false
            ),
            Transport::Loopback
        );
        // An untrusted peer's X-Forwarded-Proto is ignored.
        let h = headers(&[(X_FORWARDED_PROTO, "https")]);
        assert_eq!(
            client_of(ip("192.0.2.2"), false, &h, &p).transport,
            Transport::Plain
        );
    }
}
