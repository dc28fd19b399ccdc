//! Sets of IP ranges: an API's allowlist (verify step 9.1, reference §6.2) and the trusted proxies
//! whose `X-Forwarded-For` is believed. Unkey stores exact address strings; Keyway also takes CIDR
//! ranges, for IPv4 and IPv6.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The most entries one list may hold: matching is a scan, so a list stays short.
pub const MAX_ENTRIES: usize = 256;

/// One address (`203.0.113.7`) or CIDR range (`10.0.0.0/8`, `2001:db8::/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

/// Why an entry was refused; the message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpRangeError {
    #[error("'{0}' is not an IP address or CIDR range (e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32)")]
    Syntax(String),
    #[error("'{entry}' has a prefix length above {max}")]
    PrefixTooLong { entry: String, max: u8 },
    #[error("'{entry}' has bits set after its /{prefix} prefix; the range starts at {network}/{prefix}")]
    HostBits { entry: String, network: IpAddr, prefix: u8 },
    #[error("a list holds at most {MAX_ENTRIES} entries")]
    TooMany,
}

fn bits(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// The mask of the first `prefix` bits of a `width`-bit address, right-aligned in a u128.
fn mask(prefix: u8, width: u8) -> u128 {
    let all = if width == 128 { u128::MAX } else { (1u128 << width) - 1 };
    if prefix == 0 { 0 } else { all & !((1u128 << (width - prefix)) - 1) }
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is how a dual-stack socket reports an IPv4 peer; it is the
/// same client as `a.b.c.d` and must match IPv4 ranges.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

impl IpRange {
    pub fn contains(&self, addr: IpAddr) -> bool {
        let (net, width) = bits(self.network);
        let (candidate, candidate_width) = bits(canonical(addr));
        width == candidate_width && candidate & mask(self.prefix, width) == net
    }
}

impl FromStr for IpRange {
    type Err = IpRangeError;

    fn from_str(entry: &str) -> Result<Self, Self::Err> {
        let syntax = || IpRangeError::Syntax(entry.to_string());
        let (addr_text, prefix_text) = match entry.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (entry, None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| syntax())?;
        let (_, width) = bits(addr);
        let prefix = match prefix_text {
            None => width,
            // Digits only: `u8::from_str` would also take `+8`.
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| syntax())?
            }
            Some(_) => return Err(syntax()),
        };
        if prefix > width {
            return Err(IpRangeError::PrefixTooLong { entry: entry.to_string(), max: width });
        }
        let (value, _) = bits(addr);
        let network_bits = value & mask(prefix, width);
        if network_bits != value {
            let network = from_bits(network_bits, width);
            return Err(IpRangeError::HostBits { entry: entry.to_string(), network, prefix });
        }
        // A mapped range that covers only IPv4 space is that IPv4 range, so it matches the
        // canonical (IPv4) form of mapped clients.
        if let IpAddr::V6(v6) = addr
            && prefix >= 96
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            return Ok(IpRange { network: IpAddr::V4(v4), prefix: prefix - 96 });
        }
        Ok(IpRange { network: addr, prefix })
    }
}

fn from_bits(value: u128, width: u8) -> IpAddr {
    if width == 32 { IpAddr::V4(Ipv4Addr::from(value as u32)) } else { IpAddr::V6(Ipv6Addr::from(value)) }
}

impl fmt::Display for IpRange {
    /// A single address prints without a prefix, so entries read back as they were usually written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, width) = bits(self.network);
        if self.prefix == width { write!(f, "{}", self.network) } else { write!(f, "{}/{}", self.network, self.prefix) }
    }
}

/// A list of ranges; empty means "no restriction" for an allowlist and "nobody" for proxies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IpRanges(Vec<IpRange>);

impl IpRanges {
    /// Parses every entry (surrounding whitespace ignored), refusing the first bad one by name.
    /// Duplicates are dropped, keeping the first.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, IpRangeError> {
        if entries.len() > MAX_ENTRIES {
            return Err(IpRangeError::TooMany);
        }
        let mut ranges: Vec<IpRange> = Vec::with_capacity(entries.len());
        for entry in entries {
            let range = entry.as_ref().trim().parse()?;
            if !ranges.contains(&range) {
                ranges.push(range);
            }
        }
        Ok(IpRanges(ranges))
    }

    /// The comma-separated form storage keeps (Unkey's `ip_whitelist` format, plus CIDR).
    pub fn from_stored(text: &str) -> Result<Self, IpRangeError> {
        let entries: Vec<&str> = text.split(',').filter(|e| !e.trim().is_empty()).collect();
        Self::parse(&entries)
    }

    pub fn to_stored(&self) -> String {
        self.entries().join(",")
    }

    /// The entries in canonical text, in their original order.
    pub fn entries(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(addr))
    }

    /// Verify step 9.1: an empty list lets everyone in; otherwise the client must be known and
    /// inside it (Unkey also refuses an unknown client when a list is set).
    pub fn admits(&self, client: Option<IpAddr>) -> bool {
        self.is_empty() || client.is_some_and(|c| self.contains(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ranges(entries: &[&str]) -> IpRanges {
        IpRanges::parse(entries).unwrap()
    }

    #[test]
    fn single_addresses_and_cidr_ranges_match() {
        let list = ranges(&["10.0.0.0/8", "2001:db8::/32", "203.0.113.7"]);
        assert!(list.contains(ip("10.1.2.3")));
        assert!(!list.contains(ip("11.0.0.1")));
        assert!(list.contains(ip("203.0.113.7")));
        assert!(!list.contains(ip("203.0.113.8")));
        assert!(list.contains(ip("2001:db8:ffff::1")));
        assert!(!list.contains(ip("2001:db9::1")));
    }

    #[test]
    fn mapped_ipv6_clients_match_ipv4_ranges() {
        let list = ranges(&["127.0.0.0/8"]);
        assert!(list.contains(ip("::ffff:127.0.0.1")));
        assert!(!list.contains(ip("::1")));
        let mapped = ranges(&["::ffff:10.0.0.0/104"]);
        assert_eq!(mapped.entries(), ["10.0.0.0/8"]);
        assert!(mapped.contains(ip("10.9.9.9")));
    }

    #[test]
    fn zero_prefix_matches_its_whole_family_only() {
        assert!(ranges(&["0.0.0.0/0"]).contains(ip("8.8.8.8")));
        assert!(!ranges(&["0.0.0.0/0"]).contains(ip("2001:db8::1")));
        assert!(ranges(&["::/0"]).contains(ip("2001:db8::1")));
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in ["", "10.0.0", "10.0.0.0/", "10.0.0.0/+8", "10.0.0.0/33", "::/129", "example.com", "1.2.3.4:80"] {
            let err = IpRanges::parse(&[bad]).unwrap_err();
            assert!(err.to_string().contains(&format!("'{bad}'")), "{bad}: {err}");
        }
        let err = IpRanges::parse(&["10.0.0.1/8"]).unwrap_err();
        assert_eq!(err.to_string(), "'10.0.0.1/8' has bits set after its /8 prefix; the range starts at 10.0.0.0/8");
        let too_many: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("10.0.{}.{}", i / 256, i % 256)).collect();
        assert_eq!(IpRanges::parse(&too_many), Err(IpRangeError::TooMany));
    }

    #[test]
    fn stored_form_round_trips_and_drops_duplicates() {
        let list = ranges(&[" 10.0.0.0/8 ", "2001:DB8::/32", "10.0.0.0/8", "::1"]);
        assert_eq!(list.to_stored(), "10.0.0.0/8,2001:db8::/32,::1");
        assert_eq!(IpRanges::from_stored(&list.to_stored()).unwrap(), list);
        assert_eq!(IpRanges::from_stored("").unwrap(), IpRanges::default());
    }

    #[test]
    fn admits_unknown_clients_only_without_a_list() {
        assert!(IpRanges::default().admits(None));
        assert!(!ranges(&["10.0.0.0/8"]).admits(None));
        assert!(ranges(&["10.0.0.0/8"]).admits(Some(ip("10.0.0.1"))));
    }

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
            any::<u128>().prop_map(|v| { IpAddr::V6(Ipv6Addr::from(v)) }),
        ]
    }

    proptest! {
        /// Membership agrees with comparing the leading `prefix` bits, which is what a range means.
        #[test]
        fn a_range_holds_exactly_the_addresses_sharing_its_prefix(a in any_ip(), b in any_ip(), prefix in 0u8..=128) {
            let (av, width) = bits(canonical(a));
            let prefix = prefix % (width + 1);
            let network = from_bits(av & mask(prefix, width), width);
            let range: IpRange = format!("{network}/{prefix}").parse().unwrap();
            prop_assert!(range.contains(a));
            let (bv, bwidth) = bits(canonical(b));
            let same = bwidth == width && (prefix == 0 || (av ^ bv) >> (width - prefix) == 0);
            prop_assert_eq!(range.contains(b), same);
        }

        /// The canonical text parses back to the same range.
        #[test]
        fn canonical_text_round_trips(a in any_ip(), prefix in 0u8..=128) {
            let (v, width) = bits(a);
            let prefix = prefix % (width + 1);
            let range: IpRange = format!("{}/{prefix}", from_bits(v & mask(prefix, width), width)).parse().unwrap();
            prop_assert_eq!(range.to_string().parse::<IpRange>().unwrap(), range);
        }

        /// Parsing never panics, whatever the input.
        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = text.parse::<IpRange>();
        }
    }
}
