//! The network guard: data never points crier at an internal network. Customer webhook URLs
//! come from the audience file, and a chat webhook URL from whoever set the variable; either
//! could name cloud metadata (169.254.169.254), an admin port on this machine or a host on the
//! office network. Every URL the HTTP channels send to passes here twice:
//!
//! - as written, by [`Guard::check_url`]: an IP literal in any spelling (`127.1`,
//!   `2130706433`, `0x7f000001`, `[::ffff:127.0.0.1]` — the `url` crate reads them all as the
//!   address they mean), which the HTTP client connects to without asking DNS, and the names
//!   that always mean this machine (`localhost`, `*.localhost`);
//! - as resolved, by [`Guard::resolver`], the HTTP client's DNS resolver: it drops every
//!   internal address DNS returns, so the address checked is the address connected to, and a
//!   name that resolves (or rebinds) to an internal address reaches nothing.
//!
//! `[network] allow_private` in `crier.toml` names the ranges that may be reached anyway: how
//! tests, benchmarks and on-premise installations reach their own hosts.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

/// Why an address is internal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 127.0.0.0/8, ::1: this machine.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, and IPv6 site-local fec0::/10.
    Private,
    /// 169.254/16 (where clouds serve instance metadata), fe80::/10.
    LinkLocal,
    /// 100.64/10, carrier-grade NAT.
    SharedAddressSpace,
    /// fc00::/7.
    UniqueLocal,
    /// 0.0.0.0/8, `::`.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// 224/4, ff00::/8.
    Multicast,
    /// Documentation, benchmarking, protocol and future-use ranges (IPv6: 2001::/23,
    /// 2001:db8::/32, 3fff::/20), IPv6 outside 2000::/3, and tunnels that hide the IPv4
    /// address they lead to (Teredo).
    Reserved,
}

impl Class {
    /// The class in words, after "is".
    pub fn describe(self) -> &'static str {
        match self {
            Class::Loopback => "a loopback address (this machine)",
            Class::Private => "a private network address",
            Class::LinkLocal => "a link-local address (where clouds serve instance metadata)",
            Class::SharedAddressSpace => "a carrier-grade NAT address (100.64.0.0/10)",
            Class::UniqueLocal => "a unique-local IPv6 address (fc00::/7)",
            Class::Unspecified => "the unspecified address",
            Class::Broadcast => "the broadcast address",
            Class::Multicast => "a multicast address",
            Class::Reserved => "a reserved address",
        }
    }
}

/// The class of `ip` when it is not a public address; `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<Class> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Class> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, ..) => Class::Unspecified,
        (127, ..) => Class::Loopback,
        (10, ..) | (192, 168, _) => Class::Private,
        (172, b, _) if (16..32).contains(&b) => Class::Private,
        (100, b, _) if (64..128).contains(&b) => Class::SharedAddressSpace,
        (169, 254, _) => Class::LinkLocal,
        _ if ip.is_broadcast() => Class::Broadcast,
        (224..=239, ..) => Class::Multicast,
        (240..=255, ..)
        | (192, 0, 0 | 2)
        | (198, 51, 100)
        | (203, 0, 113)
        | (198, 18 | 19, _)
        | (192, 88, 99) => Class::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Class> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if ip.is_unspecified() {
        return Some(Class::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Class::Loopback);
    }
    match s {
        // IPv4-mapped (::ffff:a.b.c.d): the IPv4 address itself.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => classify_v4(embedded(hi, lo)),
        // IPv4-compatible (::a.b.c.d), deprecated: never a public destination.
        [0, 0, 0, 0, 0, 0, hi, lo] => classify_v4(embedded(hi, lo)).or(Some(Class::Reserved)),
        // NAT64 (64:ff9b::a.b.c.d) leads to the IPv4 address it carries.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => classify_v4(embedded(hi, lo)),
        // Local-use NAT64 (64:ff9b:1::/48) translates into a private network.
        [0x64, 0xff9b, 1, ..] => Some(Class::Private),
        // 6to4 (2002:a.b.c.d::/48) leads to the IPv4 address in its prefix.
        [0x2002, hi, lo, ..] => classify_v4(embedded(hi, lo)),
        // IETF protocol assignments (2001::/23: Teredo, which hides its IPv4 address,
        // benchmarking 2001:2::/48, ORCHID…) and documentation (2001:db8::/32, 3fff::/20).
        [0x2001, 0..=0x1ff | 0xdb8, ..] => Some(Class::Reserved),
        [0x3fff, ..] if s[1] < 0x1000 => Some(Class::Reserved),
        [first, ..] => match first {
            0xfc00..=0xfdff => Some(Class::UniqueLocal),
            0xfe80..=0xfebf => Some(Class::LinkLocal),
            0xfec0..=0xfeff => Some(Class::Private),
            0xff00..=0xffff => Some(Class::Multicast),
            0x2000..=0x3fff => None,
            _ => Some(Class::Reserved),
        },
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is; anything else as it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A range of addresses, `127.0.0.2/32` or `fd00::/8`; a bare address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` (an IPv4-mapped address as its IPv4 form) is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask32(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

/// `bits` with everything after the first `prefix` bits cleared.
fn mask32(bits: u32, prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix))
        .map_or(0, |mask| bits & mask)
}

fn mask128(bits: u128, prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix))
        .map_or(0, |mask| bits & mask)
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// Strict: `10.0.0.1/8` is refused with the range it probably means, `10.0.0.0/8`.
    fn from_str(text: &str) -> Result<Cidr, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = address.trim().parse().map_err(|_| {
            format!("`{text}` is not an address range: write it like `10.0.0.0/8` or `fd00::/8`")
        })?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => {
                    return Err(format!(
                        "`{text}`: the prefix length must be a number from 0 to {max}"
                    ));
                }
            },
        };
        let masked = match network {
            IpAddr::V4(v4) => IpAddr::V4(mask32(u32::from(v4), prefix).into()),
            IpAddr::V6(v6) => IpAddr::V6(mask128(u128::from(v6), prefix).into()),
        };
        if masked != network {
            return Err(format!(
                "`{text}` has bits set after the prefix: did you mean `{masked}/{prefix}`?"
            ));
        }
        // A range of IPv4-mapped addresses (`::ffff:127.0.0.0/104`) is the IPv4 range it maps
        // (`127.0.0.0/8`): `contains` compares a mapped address in its IPv4 form.
        if let IpAddr::V6(v6) = network
            && prefix >= 96
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            return Ok(Cidr {
                network: IpAddr::V4(v4),
                prefix: prefix - 96,
            });
        }
        Ok(Cidr { network, prefix })
    }
}

/// A URL's host refused, and why. Shows the host only: a URL's path and query can carry a
/// token (a Slack webhook's path *is* its credential).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{host}` is {}; crier does not send to internal networks (to allow it, add its range to `[network] allow_private` in crier.toml)",
    class.describe()
)]
pub struct Refused {
    pub host: String,
    pub class: Class,
}

/// The addresses crier may reach: every public address, and the internal ranges the operator
/// allowed. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allow: Arc<[Cidr]>,
}

impl Guard {
    pub fn new(allow: Vec<Cidr>) -> Guard {
        Guard {
            allow: allow.into(),
        }
    }

    /// The internal ranges allowed (`[network] allow_private`).
    pub fn allowed(&self) -> &[Cidr] {
        &self.allow
    }

    /// Why `ip` may not be reached, if it may not.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Class> {
        match classify(ip) {
            Some(class) if !self.allow.iter().any(|c| c.contains(ip)) => Err(class),
            _ => Ok(()),
        }
    }

    /// The host of `url` as written: an IP literal is checked as the address it is, a name
    /// that always means this machine as loopback. Other names are checked when resolved.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        let refused = |class| Refused {
            host: url.host_str().unwrap_or_default().to_string(),
            class,
        };
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check_ip(ip.into()).map_err(refused),
            Some(url::Host::Ipv6(ip)) => self.check_ip(ip.into()).map_err(refused),
            Some(url::Host::Domain(name)) if is_local_name(name) => {
                self.check_ip(Ipv4Addr::LOCALHOST.into()).map_err(refused)
            }
            _ => Ok(()),
        }
    }

    /// The addresses of `host` that may be reached, or why none may.
    pub fn filter(
        &self,
        host: &str,
        addresses: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Refused> {
        let mut first_refusal = None;
        let allowed: Vec<SocketAddr> = addresses
            .into_iter()
            .filter(|a| match self.check_ip(a.ip()) {
                Ok(()) => true,
                Err(class) => {
                    first_refusal.get_or_insert(class);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), first_refusal) {
            (true, Some(class)) => Err(Refused {
                host: host.to_string(),
                class,
            }),
            _ => Ok(allowed),
        }
    }

    /// The HTTP client's DNS resolver: the system's answers, internal addresses dropped.
    pub fn resolver(&self) -> Arc<Resolver> {
        Arc::new(Resolver {
            guard: self.clone(),
        })
    }
}

/// `localhost` and the names under it (RFC 6761), with or without the final dot.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// A DNS resolver for reqwest that answers only with the addresses the guard allows.
#[derive(Debug)]
pub struct Resolver {
    guard: Guard,
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed = guard.filter(&host, found)?;
            let addresses: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addresses)
        })
    }
}

/// The refusal inside `error`'s chain of causes, if the guard is why it failed.
pub fn refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// Every spelling of an internal address is refused as written, and says why.
    #[test]
    fn every_spelling_of_an_internal_address_is_refused() {
        let guard = Guard::default();
        let cases = [
            ("http://127.0.0.1/", "127.0.0.1", Class::Loopback),
            ("http://127.1/", "127.0.0.1", Class::Loopback),
            ("http://2130706433/", "127.0.0.1", Class::Loopback),
            ("http://0x7f000001/", "127.0.0.1", Class::Loopback),
            ("http://0177.0.0.1/", "127.0.0.1", Class::Loopback),
            ("http://0x7f.0.0.1/", "127.0.0.1", Class::Loopback),
            ("http://127.0.0.1.:8080/x", "127.0.0.1", Class::Loopback),
            ("http://0/", "0.0.0.0", Class::Unspecified),
            ("http://0.0.0.0/", "0.0.0.0", Class::Unspecified),
            ("http://localhost/", "localhost", Class::Loopback),
            ("http://LOCALHOST./", "localhost.", Class::Loopback),
            ("http://foo.localhost/", "foo.localhost", Class::Loopback),
            ("http://[::1]/", "[::1]", Class::Loopback),
            ("http://[::]/", "[::]", Class::Unspecified),
            (
                "http://[::ffff:127.0.0.1]/",
                "[::ffff:7f00:1]",
                Class::Loopback,
            ),
            (
                "http://[::ffff:7f00:1]/",
                "[::ffff:7f00:1]",
                Class::Loopback,
            ),
            ("http://[::127.0.0.1]/", "[::7f00:1]", Class::Loopback),
            (
                "http://[::ffff:169.254.169.254]/",
                "[::ffff:a9fe:a9fe]",
                Class::LinkLocal,
            ),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
                Class::LinkLocal,
            ),
            ("http://2852039166/", "169.254.169.254", Class::LinkLocal),
            ("http://10.0.0.1/", "10.0.0.1", Class::Private),
            ("http://012.1/", "10.0.0.1", Class::Private),
            ("http://172.16.0.1/", "172.16.0.1", Class::Private),
            ("http://172.31.255.255/", "172.31.255.255", Class::Private),
            ("http://192.168.1.1/", "192.168.1.1", Class::Private),
            (
                "http://100.64.0.1/",
                "100.64.0.1",
                Class::SharedAddressSpace,
            ),
            (
                "http://100.127.255.254/",
                "100.127.255.254",
                Class::SharedAddressSpace,
            ),
            (
                "http://255.255.255.255/",
                "255.255.255.255",
                Class::Broadcast,
            ),
            ("http://224.0.0.1/", "224.0.0.1", Class::Multicast),
            ("http://240.0.0.1/", "240.0.0.1", Class::Reserved),
            ("http://192.0.2.1/", "192.0.2.1", Class::Reserved),
            ("http://[fc00::1]/", "[fc00::1]", Class::UniqueLocal),
            (
                "http://[fd12:3456::1]/",
                "[fd12:3456::1]",
                Class::UniqueLocal,
            ),
            ("http://[fe80::1]/", "[fe80::1]", Class::LinkLocal),
            ("http://[fec0::1]/", "[fec0::1]", Class::Private),
            ("http://[ff02::1]/", "[ff02::1]", Class::Multicast),
            (
                "http://[64:ff9b::a9fe:a9fe]/",
                "[64:ff9b::a9fe:a9fe]",
                Class::LinkLocal,
            ),
            (
                "http://[2002:7f00:1::]/",
                "[2002:7f00:1::]",
                Class::Loopback,
            ),
            ("http://[2002:a00:1::]/", "[2002:a00:1::]", Class::Private),
            ("http://[2001::1]/", "[2001::1]", Class::Reserved),
            ("http://[2001:db8::1]/", "[2001:db8::1]", Class::Reserved),
            ("https://[100::1]/", "[100::1]", Class::Reserved),
        ];
        for (text, host, class) in cases {
            assert_eq!(
                guard.check_url(&url(text)),
                Err(Refused {
                    host: host.into(),
                    class
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn public_addresses_and_names_pass_as_written() {
        let guard = Guard::default();
        for text in [
            "https://hooks.example.com/x",
            "http://93.184.216.34/",
            "http://8.8.8.8:8080/",
            "http://172.32.0.1/",
            "http://100.128.0.1/",
            "http://169.253.1.1/",
            "http://[2606:4700::1111]/",
            "http://[::ffff:8.8.8.8]/",
            "http://[64:ff9b::808:808]/",
            "http://[2002:808:808::1]/",
            "https://localhost.example.com/",
            "https://mylocalhost/",
        ] {
            assert_eq!(guard.check_url(&url(text)), Ok(()), "{text}");
        }
    }

    #[test]
    fn the_refusal_names_the_host_the_reason_and_the_fix_never_the_path() {
        let refused = Guard::default()
            .check_url(&url(
                "http://169.254.169.254/latest/meta-data/T0KEN?key=S3CRET",
            ))
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "`169.254.169.254` is a link-local address (where clouds serve instance metadata); \
             crier does not send to internal networks (to allow it, add its range to \
             `[network] allow_private` in crier.toml)"
        );
    }

    /// The resolver's decision on what DNS returned: nothing is connected to.
    #[test]
    fn resolved_internal_addresses_are_dropped() {
        let guard = Guard::default();
        let at = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 443);
        for (ip, class) in [
            ("169.254.169.254", Class::LinkLocal),
            ("10.1.2.3", Class::Private),
            ("172.20.0.5", Class::Private),
            ("192.168.0.10", Class::Private),
            ("100.100.100.200", Class::SharedAddressSpace),
            ("127.0.0.53", Class::Loopback),
            ("0.0.0.0", Class::Unspecified),
            ("::1", Class::Loopback),
            ("::ffff:10.0.0.1", Class::Private),
            ("fd00:ec2::254", Class::UniqueLocal),
            ("fe80::a9fe:a9fe", Class::LinkLocal),
        ] {
            assert_eq!(
                guard.filter("rebound.example", [at(ip)]),
                Err(Refused {
                    host: "rebound.example".into(),
                    class
                }),
                "{ip}"
            );
        }
        // A public answer beside an internal one: only the public one is connected to.
        assert_eq!(
            guard.filter("mixed.example", [at("10.0.0.1"), at("93.184.216.34")]),
            Ok(vec![at("93.184.216.34")])
        );
        assert_eq!(guard.filter("empty.example", []), Ok(vec![]));
    }

    #[test]
    fn the_allow_list_opens_exactly_its_ranges() {
        let guard = Guard::new(vec![
            "127.0.0.2/32".parse().unwrap(),
            "10.20.0.0/16".parse().unwrap(),
            "fd00::/8".parse().unwrap(),
        ]);
        let check = |ip: &str| guard.check_ip(ip.parse().unwrap());
        assert_eq!(check("127.0.0.2"), Ok(()));
        assert_eq!(check("::ffff:127.0.0.2"), Ok(()));
        assert_eq!(check("127.0.0.3"), Err(Class::Loopback));
        assert_eq!(check("127.0.0.1"), Err(Class::Loopback));
        assert_eq!(check("10.20.255.1"), Ok(()));
        assert_eq!(check("10.21.0.1"), Err(Class::Private));
        assert_eq!(check("fd00::1"), Ok(()));
        assert_eq!(check("fc00::1"), Err(Class::UniqueLocal));
        assert_eq!(check("169.254.169.254"), Err(Class::LinkLocal));
        // `localhost` is loopback: allowed only where 127.0.0.1 is.
        assert!(guard.check_url(&url("http://localhost:8080/")).is_err());
        let loopback = Guard::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert_eq!(loopback.check_url(&url("http://localhost:8080/")), Ok(()));
        assert_eq!(loopback.check_url(&url("http://127.1:8080/")), Ok(()));
        assert!(loopback.check_url(&url("http://[::1]:8080/")).is_err());
    }

    #[test]
    fn ranges_parse_strictly() {
        let parse = |t: &str| t.parse::<Cidr>().map(|c| c.to_string());
        assert_eq!(parse("127.0.0.2/32"), Ok("127.0.0.2/32".into()));
        assert_eq!(parse("127.0.0.2"), Ok("127.0.0.2/32".into()));
        assert_eq!(parse("0.0.0.0/0"), Ok("0.0.0.0/0".into()));
        assert_eq!(parse("fd00::/8"), Ok("fd00::/8".into()));
        assert_eq!(parse("::1"), Ok("::1/128".into()));
        assert_eq!(
            parse("10.0.0.1/8"),
            Err("`10.0.0.1/8` has bits set after the prefix: did you mean `10.0.0.0/8`?".into())
        );
        assert_eq!(
            parse("10.0.0.0/33"),
            Err("`10.0.0.0/33`: the prefix length must be a number from 0 to 32".into())
        );
        assert_eq!(
            parse("intranet"),
            Err(
                "`intranet` is not an address range: write it like `10.0.0.0/8` or `fd00::/8`"
                    .into()
            )
        );
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("10.0.0.1".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
    }

    /// Found by fuzzing (`fuzz/`, target `network`, checked against std's `is_global`): the
    /// IPv6 documentation prefix 3fff::/20 (RFC 9637) and the IETF protocol block 2001::/23
    /// (benchmarking 2001:2::/48, the counterpart of 198.18.0.0/15) passed as public.
    #[test]
    fn ipv6_documentation_and_protocol_ranges_are_reserved() {
        for ip in [
            "3fff::4e:4e4e:4e4e:4e4e:4e00",
            "3fff:fff::1",
            "2001:2::1",
            "2001:10::1",
            "2001:1ff:ffff::1",
            "2001:db8::1",
            "2001::1",
        ] {
            assert_eq!(classify(ip.parse().unwrap()), Some(Class::Reserved), "{ip}");
        }
        for ip in [
            "3fff:1000::1",
            "2001:200::1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
        ] {
            assert_eq!(classify(ip.parse().unwrap()), None, "{ip}");
        }
    }

    /// Found by fuzzing (`fuzz/`, target `network`): `::ffff:127.0.0.0/104` parsed, but
    /// contained nothing, not even `::ffff:127.0.0.0`, since a mapped address is compared in
    /// its IPv4 form; an allow list written that way silently allowed nothing.
    #[test]
    fn an_ipv4_mapped_range_contains_its_addresses_in_both_forms() {
        let range: Cidr = "::ffff:127.0.0.0/104".parse().unwrap();
        assert_eq!(range.to_string(), "127.0.0.0/8");
        for ip in ["::ffff:127.0.0.0", "::ffff:127.1.2.3", "127.0.0.1"] {
            assert!(range.contains(ip.parse().unwrap()), "{ip}");
        }
        assert!(!range.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!range.contains("::127.0.0.1".parse().unwrap()));
        let guard = Guard::new(vec![range]);
        assert_eq!(
            guard.check_url(&url("http://[::ffff:127.0.0.1]:8080/")),
            Ok(())
        );
        assert_eq!(
            "::ffff:0:0/96".parse::<Cidr>().map(|c| c.to_string()),
            Ok("0.0.0.0/0".into())
        );
        assert_eq!(
            "::/80".parse::<Cidr>().map(|c| c.to_string()),
            Ok("::/80".into())
        );
    }
}
