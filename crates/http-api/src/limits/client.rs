//! The client's address: the TCP peer, or behind a trusted reverse proxy the rightmost
//! `X-Forwarded-For` address that is not itself a trusted proxy.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// A reverse proxy (or a network of them) whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

impl TrustedProxy {
    fn contains(&self, address: &IpAddr) -> bool {
        self.0.contains(address)
    }
}

/// Why a `--trusted-proxy` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is neither an IP address nor a CIDR network (10.0.0.0/8, fd00::/8)")]
pub struct InvalidTrustedProxy(String);

impl FromStr for TrustedProxy {
    type Err = InvalidTrustedProxy;

    /// `10.0.0.1`, `10.0.0.0/8`, `::1` or `fd00::/8`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(network) = text.parse::<IpNet>() {
            return Ok(TrustedProxy(network.trunc()));
        }
        text.parse::<IpAddr>()
            .map(|address| TrustedProxy(IpNet::from(address)))
            .map_err(|_| InvalidTrustedProxy(text.to_owned()))
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The TCP peer's address, when the server was started with connect info.
pub(crate) fn peer(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_canonical())
}

/// The client's address as far as it can be known: the peer, or behind trusted proxies the
/// rightmost forwarded address that is not a trusted proxy. An unparsable forwarded entry
/// stops the search at the proxy that added it.
pub(crate) fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[TrustedProxy],
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |address: &IpAddr| trusted.iter().any(|proxy| proxy.contains(address));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        let Ok(address) = entry
            .parse::<IpAddr>()
            .map(|address| address.to_canonical())
        else {
            return Some(client);
        };
        client = address;
        if !is_trusted(&address) {
            return Some(address);
        }
    }
    Some(client)
}

/// What an address's bucket is keyed by: the address, or an IPv6 address's /64 network
/// (one host usually holds a whole /64).
pub(crate) fn bucket_key(address: Option<IpAddr>) -> Option<IpAddr> {
    address.map(|address| match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::from([
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ])
        }
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn proxies(list: &[&str]) -> Vec<TrustedProxy> {
        list.iter().map(|text| text.parse().unwrap()).collect()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn trusted_proxies_parse_addresses_and_networks() {
        assert_eq!(proxies(&["10.0.0.0/8"])[0].to_string(), "10.0.0.0/8");
        assert_eq!(proxies(&["10.1.2.3"])[0].to_string(), "10.1.2.3/32");
        assert_eq!(proxies(&["::1"])[0].to_string(), "::1/128");
        assert!("proxy.local".parse::<TrustedProxy>().is_err());
        assert!("10.0.0.0/33".parse::<TrustedProxy>().is_err());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = forwarded("1.2.3.4");
        let client = client_address(Some(ip("203.0.113.9")), &headers, &trusted);
        assert_eq!(client, Some(ip("203.0.113.9")));
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_address_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = forwarded("6.6.6.6, 198.51.100.7, 10.0.0.2");
        let client = client_address(Some(ip("10.0.0.1")), &headers, &trusted);
        assert_eq!(
            client,
            Some(ip("198.51.100.7")),
            "the spoofed 6.6.6.6 is ignored"
        );
        let none = client_address(Some(ip("10.0.0.1")), &HeaderMap::new(), &trusted);
        assert_eq!(none, Some(ip("10.0.0.1")));
        let garbage = forwarded("198.51.100.7, not-an-ip, 10.0.0.2");
        let client = client_address(Some(ip("10.0.0.1")), &garbage, &trusted);
        assert_eq!(client, Some(ip("10.0.0.2")));
    }

    #[test]
    fn ipv6_addresses_share_a_bucket_per_64() {
        let a = bucket_key(Some(ip("2001:db8:1:2::1")));
        let b = bucket_key(Some(ip("2001:db8:1:2:ffff::9")));
        let c = bucket_key(Some(ip("2001:db8:1:3::1")));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(bucket_key(Some(ip("1.2.3.4"))), Some(ip("1.2.3.4")));
    }
}
