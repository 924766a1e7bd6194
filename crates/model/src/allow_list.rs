//! Allow-lists of source addresses: IPv4 and IPv6 networks in CIDR form
//! (control NS-3: privileged access only from listed sources).
//!
//! An allow-list means what it lists and nothing more: an empty list allows
//! no address. "No restriction" is said explicitly with [`AllowList::any`]
//! (or, at a call site, with `Option<AllowList>` set to `None`), so that a
//! list emptied by mistake shuts a door rather than opening it.
//!
//! An IPv4 address seen as an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`,
//! as a dual-stack socket reports it) matches the IPv4 entries, and the
//! other way round.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A list of networks; an address is allowed when one of them contains it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct AllowList {
    nets: Vec<IpNet>,
}

/// Why an allow-list entry was refused; names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowListError {
    #[error(
        "allow-list entry {position} ({entry:?}) is not an address or a network: expected an IPv4 or IPv6 address, or a CIDR such as 10.0.0.0/8 or 2001:db8::/32"
    )]
    NotANetwork { position: usize, entry: String },
    #[error(
        "allow-list entry {position} ({entry:?}) has bits set after its prefix length: write {network} for the whole network, or the address alone for one host"
    )]
    HostBitsSet {
        position: usize,
        entry: String,
        network: IpNet,
    },
}

impl AllowList {
    /// Parses entries: an address (one host: /32 or /128) or a network in
    /// CIDR form. Surrounding spaces are ignored; anything else, including an
    /// empty entry or a network written with host bits set
    /// (`10.0.0.1/8`), is refused with the entry's position (from 1).
    pub fn parse<I, S>(entries: I) -> Result<Self, AllowListError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets = entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| parse_entry(index + 1, entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { nets })
    }

    /// Every IPv4 and IPv6 address: no restriction, said explicitly.
    pub fn any() -> Self {
        Self {
            nets: vec![
                IpNet::V4(ipnet::Ipv4Net::default()),
                IpNet::V6(ipnet::Ipv6Net::default()),
            ],
        }
    }

    /// No address at all (the same as an empty list).
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether `addr` is in one of the networks. An IPv4-mapped IPv6
    /// address is also checked as the IPv4 address it carries, and an IPv4
    /// address as its mapped IPv6 form.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let other_form = match addr {
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        };
        self.nets
            .iter()
            .any(|net| net.contains(&addr) || net.contains(&other_form))
    }

    /// Whether the list has no entry, and so allows no address. This is not
    /// "no restriction": that is [`AllowList::any`].
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether every address is allowed: the list holds `::/0`, which also
    /// holds every IPv4 address in its mapped form.
    pub fn allows_any(&self) -> bool {
        self.nets
            .iter()
            .any(|net| matches!(net, IpNet::V6(_)) && net.prefix_len() == 0)
    }

    /// The networks, in the order given.
    pub fn entries(&self) -> &[IpNet] {
        &self.nets
    }
}

fn parse_entry(position: usize, raw: &str) -> Result<IpNet, AllowListError> {
    let entry = raw.trim();
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Ok(IpNet::from(addr));
    }
    let net: IpNet = entry.parse().map_err(|_| AllowListError::NotANetwork {
        position,
        entry: raw.to_owned(),
    })?;
    if net.trunc() != net {
        return Err(AllowListError::HostBitsSet {
            position,
            entry: raw.to_owned(),
            network: net.trunc(),
        });
    }
    Ok(net)
}

impl TryFrom<Vec<String>> for AllowList {
    type Error = AllowListError;

    fn try_from(entries: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(entries)
    }
}

impl From<AllowList> for Vec<String> {
    fn from(list: AllowList) -> Self {
        list.nets.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.nets.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The list of `entries`, checked to hold each of `inside` and none of
    /// `outside`.
    fn holding(entries: &[&str], inside: &[&str], outside: &[&str]) -> AllowList {
        let list = AllowList::parse(entries).unwrap();
        for a in inside {
            assert!(list.contains(ip(a)), "{a} is inside {list}");
        }
        for a in outside {
            assert!(!list.contains(ip(a)), "{a} is outside {list}");
        }
        list
    }

    #[test]
    fn ipv4_networks_and_hosts() {
        // A bare address is a /32.
        let inside = ["10.1.2.3", "192.0.2.7"];
        let list = holding(
            &["10.0.0.0/8", " 192.0.2.7 "],
            &inside,
            &["192.0.2.8", "11.0.0.1"],
        );
        assert_eq!(list.to_string(), "10.0.0.0/8, 192.0.2.7/32");
    }

    #[test]
    fn ipv6_networks_and_hosts() {
        // A bare address is a /128; an IPv4 address is in no IPv6 network.
        let inside = ["2001:db8:1::1", "fd00::2"];
        let outside = ["fd00::3", "2001:db9::1", "10.0.0.1"];
        holding(&["2001:db8::/32", "fd00::2"], &inside, &outside);
    }

    #[test]
    fn mapped_addresses_match_ipv4_entries_and_back() {
        let v4 = AllowList::parse(["192.0.2.0/24"]).unwrap();
        assert!(v4.contains(ip("::ffff:192.0.2.9")));
        assert!(!v4.contains(ip("::ffff:198.51.100.1")));
        let mapped = AllowList::parse(["::ffff:192.0.2.0/120"]).unwrap();
        assert!(mapped.contains(ip("192.0.2.9")));
        // Only the mapped form carries an IPv4 address; the compatible
        // form (::192.0.2.9) is an ordinary IPv6 address.
        assert!(!v4.contains(ip("::192.0.2.9")));
    }

    #[test]
    fn empty_allows_nothing_and_any_allows_everything() {
        let empty = AllowList::parse(Vec::<String>::new()).unwrap();
        assert!(empty.is_empty());
        assert_eq!(empty, AllowList::none());
        assert!(!empty.contains(ip("127.0.0.1")));
        assert!(!empty.allows_any());
        let any = AllowList::any();
        assert!(!any.is_empty());
        assert!(any.allows_any());
        for addr in [
            "127.0.0.1",
            "203.0.113.5",
            "::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(any.contains(ip(addr)), "{addr}");
        }
        assert!(!AllowList::parse(["0.0.0.0/0"]).unwrap().allows_any());
    }

    #[test]
    fn bad_entries_are_named() {
        for (entries, position, bad) in [
            (vec!["10.0.0.0/8", "10.0.0.300"], 2, "10.0.0.300"),
            (vec!["10.0.0.0/33"], 1, "10.0.0.0/33"),
            (vec!["2001:db8::/129"], 1, "2001:db8::/129"),
            (vec!["localhost"], 1, "localhost"),
            (vec!["10.0.0.0/8", "", "::1"], 2, ""),
            (vec!["10.0.0.0/8,10.1.0.0/16"], 1, "10.0.0.0/8,10.1.0.0/16"),
        ] {
            let err = AllowList::parse(&entries).unwrap_err();
            assert_eq!(
                err,
                AllowListError::NotANetwork {
                    position,
                    entry: bad.to_owned()
                }
            );
            let message = err.to_string();
            assert!(message.contains(&format!("{bad:?}")), "{message}");
            assert!(message.contains(&format!("entry {position}")), "{message}");
        }
    }

    #[test]
    fn host_bits_after_the_prefix_are_refused_with_the_network() {
        let err = AllowList::parse(["10.0.0.1/8"]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"10.0.0.1/8\""), "{message}");
        assert!(message.contains("write 10.0.0.0/8"), "{message}");
        assert!(AllowList::parse(["2001:db8::1/32"]).is_err());
    }

    #[test]
    fn serde_is_a_list_of_strings() {
        let list: AllowList = serde_json::from_str(r#"["10.0.0.0/8", "::1"]"#).unwrap();
        assert!(list.contains(ip("::1")));
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"["10.0.0.0/8","::1/128"]"#
        );
        let err = serde_json::from_str::<AllowList>(r#"["10.0.0.0/8", "nope"]"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry 2 (\"nope\")"), "{err}");
        assert!(serde_json::from_str::<AllowList>(r#""10.0.0.0/8""#).is_err());
    }
}
