//! The network guard's classifier (`network::classify`, `Guard::check_url` on a URL as
//! written, `Cidr::from_str`). Pure: nothing here resolves a name or opens a connection.
//!
//! An address crier calls public is never one std calls loopback, private, link-local,
//! unspecified, broadcast, documentation, multicast, unique-local or non-global (nightly's
//! `is_global`, less the IPv6 forms crier reads through to the IPv4 address they lead to); an
//! IPv4-mapped address is classed as its IPv4 address; a URL's host is refused exactly when it
//! is an internal IP literal or a `localhost` name; an http(s) URL's name host is never an IP
//! literal; a range contains its own address and reads back as itself.
#![no_main]
#![feature(ip)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crier::network::{Cidr, Class, Guard, classify};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

/// Two addresses, then a URL 0xFF a range.
#[derive(Debug, Arbitrary)]
struct Input<'a> {
    v4: u32,
    v6: u128,
    rest: &'a [u8],
}

fn check_v4(ip: Ipv4Addr) {
    let class = classify(ip.into());
    if class.is_none() {
        assert!(
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_documentation()
                || ip.is_multicast()),
            "{ip} is public to crier"
        );
        assert!(
            ip.is_global(),
            "{ip} is public to crier but not global to std"
        );
    }
    // The same address in its IPv6 spellings.
    assert_eq!(classify(ip.to_ipv6_mapped().into()), class, "::ffff:{ip}");
}

/// The IPv6 forms crier reads through to the IPv4 address they lead to: IPv4-mapped
/// (`::ffff:0:0/96`) and 6to4 (`2002::/16`), which std calls non-global as a whole.
fn reads_through(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => ip.to_ipv4_mapped(),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::from(u32::from(hi) << 16 | u32::from(lo))),
        _ => None,
    }
}

fn check_v6(ip: Ipv6Addr) {
    let class = classify(ip.into());
    if class.is_none() {
        assert!(
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
                || ip.is_documentation()),
            "{ip} is public to crier"
        );
        match reads_through(ip) {
            Some(v4) => assert!(v4.is_global(), "{ip} leads to {v4}, which is not global"),
            None => assert!(
                ip.is_global(),
                "{ip} is public to crier but not global to std"
            ),
        }
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        assert_eq!(class, classify(v4.into()), "{ip}");
    }
}

fn check_url(text: &str) {
    let Ok(url) = url::Url::parse(text) else {
        return;
    };
    let guard = Guard::default();
    let result = guard.check_url(&url);
    let expected = match url.host() {
        Some(url::Host::Ipv4(ip)) => classify(ip.into()),
        Some(url::Host::Ipv6(ip)) => classify(ip.into()),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            (name == "localhost" || name.ends_with(".localhost")).then_some(Class::Loopback)
        }
        None => None,
    };
    assert_eq!(result.as_ref().err().map(|r| r.class), expected, "{url}");
    if let Err(refused) = result {
        assert_eq!(refused.host, url.host_str().unwrap_or_default());
        // The refusal names the host only: never the path or query, which can be a token.
        let shown = refused.to_string();
        if url.path().len() > 12 && !url.host_str().unwrap_or_default().contains(url.path()) {
            assert!(!shown.contains(url.path()), "{shown}");
        }
    }
    if matches!(url.scheme(), "http" | "https") {
        if let Some(url::Host::Domain(name)) = url.host() {
            assert!(
                name.parse::<IpAddr>().is_err(),
                "`{name}` is an address the guard would take for a name"
            );
        }
    }
}

fn check_range(text: &str) {
    let Ok(range) = text.parse::<Cidr>() else {
        return;
    };
    let shown = range.to_string();
    assert_eq!(shown.parse::<Cidr>(), Ok(range), "{text} → {shown}");
    let address: IpAddr = text
        .split_once('/')
        .map_or(text, |(a, _)| a)
        .trim()
        .parse()
        .expect("a range starts with an address");
    assert!(
        range.contains(address),
        "{shown} does not contain {address}"
    );
    let guard = Guard::new(vec![range]);
    assert_eq!(guard.check_ip(address), Ok(()), "{shown} allows {address}");
}

fuzz_target!(|input: Input<'_>| {
    check_v4(Ipv4Addr::from(input.v4));
    check_v6(Ipv6Addr::from(input.v6));
    // The IPv6 forms that embed an IPv4 address, around the fuzzed one.
    let v4 = u128::from(input.v4);
    for prefix in [0u128, 0xffff << 32, 0x64_ff9b << 96, 0x2002 << 112] {
        let embedded = if prefix == 0x2002 << 112 {
            prefix | v4 << 80
        } else {
            prefix | v4
        };
        check_v6(Ipv6Addr::from(embedded));
    }
    let [url, range] = common::texts(input.rest);
    check_url(&common::text(url));
    check_range(&common::text(range));
});
