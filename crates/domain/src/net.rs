//! Which network addresses the server may call on a user's behalf: webhook URLs are chosen
//! by API users, so without this check they could make the server reach its own loopback,
//! the cloud's metadata service or the private network behind it (SSRF).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a public unicast address, one a webhook may be sent to when private
/// deliveries are not allowed.
///
/// Refused: unspecified (`0.0.0.0/8`, `::`), loopback (`127/8`, `::1`), private (RFC 1918),
/// shared CGNAT (`100.64/10`), link-local (`169.254/16`, `fe80::/10`), unique-local
/// (`fc00::/7`), site-local (`fec0::/10`), multicast, broadcast and the reserved `240/4`,
/// documentation and benchmarking ranges, IETF protocol assignments (`192.0.0/24`,
/// `2001::/23`), discard-only (`100::/64`), and everything outside IPv6's global unicast
/// `2000::/3`. IPv4 carried in IPv6 (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`) is judged by the IPv4 address it reaches.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network", with the unspecified address
        || a == 10 // private
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local (cloud metadata services)
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation (TEST-NET-1)
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation (TEST-NET-2)
        || (a == 203 && b == 0 && c == 113) // documentation (TEST-NET-3)
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64's well-known prefix reaches the IPv4 address in the last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(segments[6], segments[7]));
    }
    // 6to4 reaches the IPv4 address in bits 16 to 48.
    if segments[0] == 0x2002 {
        return is_public_v4(embedded_v4(segments[1], segments[2]));
    }
    let global_unicast = segments[0] & 0xe000 == 0x2000;
    let refused = match segments[0] {
        // IETF protocol assignments (2001::/23, Teredo among them), documentation.
        0x2001 => segments[1] < 0x0200 || segments[1] == 0x0db8,
        // Documentation (RFC 9637).
        0x3fff => segments[1] < 0x1000,
        _ => false,
    };
    global_unicast && !refused
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_unicast_addresses_pass_and_every_special_range_is_refused() {
        let table: &[(&str, bool)] = &[
            // Public.
            ("1.1.1.1", true),
            ("8.8.8.8", true),
            ("93.184.216.34", true),
            ("100.63.255.255", true),
            ("100.128.0.0", true),
            ("172.15.255.255", true),
            ("172.32.0.0", true),
            ("192.0.1.1", true),
            ("192.169.0.1", true),
            ("198.17.255.255", true),
            ("198.20.0.0", true),
            ("223.255.255.255", true),
            ("2606:4700:4700::1111", true),
            ("2a00:1450:4001:80b::200e", true),
            ("2001:200::1", true),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::808:808", true),
            ("2002:808:808::1", true),
            // Unspecified and "this network".
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("::", false),
            // Loopback.
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("::1", false),
            // Private (RFC 1918).
            ("10.0.0.1", false),
            ("10.255.255.255", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.168.1.1", false),
            // Shared address space (CGNAT).
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            // Link-local, with the cloud metadata service.
            ("169.254.169.254", false),
            ("fe80::1", false),
            ("febf::1", false),
            // Unique-local and the old site-local.
            ("fc00::1", false),
            ("fd12:3456:789a::1", false),
            ("fec0::1", false),
            // Multicast, reserved, broadcast.
            ("224.0.0.1", false),
            ("239.255.255.250", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            ("ff02::1", false),
            ("ff0e::1", false),
            // Documentation, benchmarking, protocol assignments, discard-only.
            ("192.0.0.8", false),
            ("192.0.2.1", false),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("198.51.100.1", false),
            ("203.0.113.1", false),
            ("2001:db8::1", false),
            ("3fff::1", false),
            ("2001::1", false),
            ("2001:1ff::1", false),
            ("100::1", false),
            // IPv4 in IPv6, judged by the IPv4 address.
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("::127.0.0.1", false),
            ("64:ff9b::7f00:1", false),
            ("64:ff9b::a00:1", false),
            ("2002:7f00:1::1", false),
            ("2002:c0a8:101::1", false),
            // Outside global unicast.
            ("4000::1", false),
            ("::2", false),
        ];
        for (text, public) in table {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(is_public_ip(ip), *public, "{text}");
        }
    }
}
