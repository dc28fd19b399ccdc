//! Which address a request comes from, for the IP allowlist of verify (step 9.1).
//!
//! Unkey believes the first `X-Forwarded-For` entry of any request, so any client can claim any
//! address. Keyway believes the header only from a peer the operator listed as a trusted proxy,
//! and then only as far as the chain of trusted proxies goes: each proxy appends the address it
//! saw, so reading from the right, the first address that is not a trusted proxy is the client.
//! Everything left of it was written by that client and proves nothing.

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use keyway_domain::ip_allowlist::{IpRanges, canonical};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client's address, in every request's extensions; `None` when the server was not started
/// with connection info (then an API with an allowlist refuses every key).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<IpAddr>);

/// One `X-Forwarded-For` entry: an address, tolerating the port some proxies add.
fn forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client of a request from `peer` carrying the given `X-Forwarded-For` header values (in
/// the order they appear). When every entry is a trusted proxy, the left-most is the client (a
/// proxy calling on its own behalf). An unreadable entry stops the walk at the proxy to its right,
/// which is what a trusted proxy vouches for: nothing beyond it is believed.
pub fn client_ip<'a>(peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>, trusted: &IpRanges) -> IpAddr {
    let mut client = canonical(peer);
    if !trusted.contains(client) {
        return client;
    }
    let entries: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).collect();
    for entry in entries.into_iter().rev() {
        let Some(addr) = forwarded_entry(entry) else {
            break;
        };
        client = canonical(addr);
        if !trusted.contains(client) {
            break;
        }
    }
    client
}

/// Middleware: puts the request's [`ClientIp`] into its extensions.
pub async fn scope(trusted: Arc<IpRanges>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let client = peer.map(|peer| {
        let headers = request.headers().get_all(X_FORWARDED_FOR);
        client_ip(peer, headers.iter().filter_map(|v| v.to_str().ok()), &trusted)
    });
    request.extensions_mut().insert(ClientIp(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(entries: &[&str]) -> IpRanges {
        IpRanges::parse(entries).unwrap()
    }

    #[test]
    fn the_header_of_an_untrusted_peer_is_ignored() {
        assert_eq!(client_ip(ip("198.51.100.9"), ["10.0.0.1"], &IpRanges::default()), ip("198.51.100.9"));
        assert_eq!(client_ip(ip("198.51.100.9"), ["10.0.0.1"], &proxies(&["10.0.0.0/8"])), ip("198.51.100.9"));
    }

    #[test]
    fn a_trusted_peer_forwards_the_right_most_untrusted_address() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), ["203.0.113.7"], &trusted), ip("203.0.113.7"));
        // The client wrote the left-most entry itself; only what the proxies appended counts.
        assert_eq!(client_ip(ip("10.0.0.2"), ["1.1.1.1, 203.0.113.7, 10.0.0.3"], &trusted), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("10.0.0.2"), ["1.1.1.1", "203.0.113.7,10.0.0.3"], &trusted), ip("203.0.113.7"));
    }

    #[test]
    fn a_chain_of_trusted_proxies_only_yields_its_left_most() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), ["10.0.0.5, 10.0.0.3"], &trusted), ip("10.0.0.5"));
        assert_eq!(client_ip(ip("10.0.0.2"), std::iter::empty(), &trusted), ip("10.0.0.2"));
    }

    #[test]
    fn an_unreadable_entry_stops_the_walk() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(client_ip(ip("10.0.0.2"), ["203.0.113.7, garbage, 10.0.0.3"], &trusted), ip("10.0.0.3"));
        assert_eq!(client_ip(ip("10.0.0.2"), ["unknown"], &trusted), ip("10.0.0.2"));
    }

    #[test]
    fn ports_and_mapped_addresses_are_normalised() {
        let trusted = proxies(&["127.0.0.1", "::1"]);
        assert_eq!(client_ip(ip("::ffff:127.0.0.1"), ["203.0.113.7:4711"], &trusted), ip("203.0.113.7"));
        assert_eq!(client_ip(ip("::1"), ["[2001:db8::7]:443"], &trusted), ip("2001:db8::7"));
        assert_eq!(client_ip(ip("::1"), [" ::ffff:198.51.100.1 "], &trusted), ip("198.51.100.1"));
    }
}
