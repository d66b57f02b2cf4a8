//! Who a request comes from, as far as rate limits can tell: the client's
//! network address (or an opaque key), and the device token it carries.

use std::fmt;
use std::net::IpAddr;

/// The client's network address, so that limits count per client and per
/// network. An IPv4 client is its address, and its network the address's
/// prefix of a configured length (24 bits by default). An IPv6 client is its
/// /64 (what one household or server holds, and can rotate addresses in at
/// will), and its network the /48 around it. A transport without addresses
/// gives an opaque key instead, counted per key only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientAddress(Address);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Address {
    Ip(IpAddr),
    Key(String),
}

impl ClientAddress {
    /// The prefix length IPv4 addresses are grouped by, by default: a /24.
    pub const DEFAULT_IPV4_PREFIX: u8 = 24;
    /// The prefix length of an IPv6 client: a /64.
    pub const IPV6_CLIENT_PREFIX: u8 = 64;
    /// The prefix length of an IPv6 client's network: a /48.
    pub const IPV6_NETWORK_PREFIX: u8 = 48;

    /// A client at `address` (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn ip(address: IpAddr) -> Self {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        Self(Address::Ip(address))
    }

    /// A client known by `key` alone (no network to group it with).
    pub fn opaque(key: impl Into<String>) -> Self {
        Self(Address::Key(key.into()))
    }

    /// The key the client's own limits count under: its IPv4 address, its
    /// IPv6 /64, or its opaque key.
    pub fn address_key(&self) -> String {
        match &self.0 {
            Address::Ip(IpAddr::V4(v4)) => format!("ip:{v4}"),
            Address::Ip(IpAddr::V6(v6)) => {
                format!("ip:{}", ipv6_prefix(*v6, Self::IPV6_CLIENT_PREFIX))
            }
            Address::Key(key) => format!("key:{key}"),
        }
    }

    /// The key its network's limits count under (an IPv6 /48, an IPv4
    /// prefix of `ipv4_prefix` bits, at most 32), or `None` for an opaque
    /// key.
    pub fn network_key(&self, ipv4_prefix: u8) -> Option<String> {
        let Address::Ip(ip) = &self.0 else {
            return None;
        };
        Some(match ip {
            IpAddr::V4(v4) => {
                let bits = u32::from(ipv4_prefix.min(32));
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                let network = std::net::Ipv4Addr::from(u32::from(*v4) & mask);
                format!("net:{network}/{bits}")
            }
            IpAddr::V6(v6) => format!("net:{}", ipv6_prefix(*v6, Self::IPV6_NETWORK_PREFIX)),
        })
    }
}

/// `address`'s network of `bits` bits, as `network/bits`.
fn ipv6_prefix(address: std::net::Ipv6Addr, bits: u8) -> String {
    let mask = u128::MAX << (128 - u32::from(bits.min(128)));
    let network = std::net::Ipv6Addr::from(u128::from(address) & mask);
    format!("{network}/{bits}")
}

impl fmt::Debug for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address_key())
    }
}

impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Address::Ip(ip) => ip.fmt(f),
            Address::Key(key) => key.fmt(f),
        }
    }
}

impl From<IpAddr> for ClientAddress {
    fn from(address: IpAddr) -> Self {
        Self::ip(address)
    }
}

impl From<std::net::SocketAddr> for ClientAddress {
    /// The address's IP (the port says nothing about the client).
    fn from(address: std::net::SocketAddr) -> Self {
        Self::ip(address.ip())
    }
}

impl From<&str> for ClientAddress {
    /// An IP address if `raw` is one (or an address with a port: the port
    /// is left out), else an opaque key.
    fn from(raw: &str) -> Self {
        if let Ok(ip) = raw.parse::<IpAddr>() {
            return Self::ip(ip);
        }
        raw.parse::<std::net::SocketAddr>()
            .map_or_else(|_| Self::opaque(raw), Self::from)
    }
}

/// The client of a login or signup: its address, and the device token it
/// presents, if any (see [`Chat::login`](crate::Chat::login)).
#[derive(Clone, Debug)]
pub struct Client {
    /// Where it comes from.
    pub address: ClientAddress,
    /// The device token a client that logged in here before carries. Its
    /// `Debug` shows only whether there is one.
    device: Option<DeviceSecret>,
}

/// A device token as presented; never shown by `Debug`.
#[derive(Clone)]
struct DeviceSecret(zeroize::Zeroizing<String>);

impl fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeviceSecret(..)")
    }
}

impl Client {
    /// A client at `address` with no device token.
    pub fn new(address: impl Into<ClientAddress>) -> Self {
        Self {
            address: address.into(),
            device: None,
        }
    }

    /// The client presents `token` (from an earlier successful login).
    pub fn with_device(mut self, token: impl Into<String>) -> Self {
        self.device = Some(DeviceSecret(zeroize::Zeroizing::new(token.into())));
        self
    }

    /// The device token presented, if any.
    pub fn device(&self) -> Option<&str> {
        self.device.as_ref().map(|d| d.0.as_str())
    }
}

impl From<ClientAddress> for Client {
    fn from(address: ClientAddress) -> Self {
        Self::new(address)
    }
}

impl From<IpAddr> for Client {
    fn from(address: IpAddr) -> Self {
        Self::new(address)
    }
}

impl From<&str> for Client {
    /// A client at `raw` (an IP address, or else an opaque key).
    fn from(raw: &str) -> Self {
        Self::new(raw)
    }
}

impl From<&String> for Client {
    /// A client at `raw` (an IP address, or else an opaque key).
    fn from(raw: &String) -> Self {
        Self::new(raw.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_group_by_ipv6_64_and_48_and_the_configured_ipv4_prefix() {
        let v4 = ClientAddress::from("203.0.113.77");
        assert_eq!(v4.address_key(), "ip:203.0.113.77");
        assert_eq!(v4.network_key(24).as_deref(), Some("net:203.0.113.0/24"));
        assert_eq!(v4.network_key(16).as_deref(), Some("net:203.0.0.0/16"));
        assert_eq!(v4.network_key(32).as_deref(), Some("net:203.0.113.77/32"));
        assert_eq!(v4.network_key(0).as_deref(), Some("net:0.0.0.0/0"));
        assert_eq!(v4.network_key(99).as_deref(), Some("net:203.0.113.77/32"));
        let v6 = ClientAddress::from("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
        assert_eq!(v6.address_key(), "ip:2001:db8:1:2::/64");
        assert_eq!(v6.network_key(24).as_deref(), Some("net:2001:db8:1::/48"));
        let same_64 = ClientAddress::from("2001:db8:1:2::1");
        assert_eq!(
            v6.address_key(),
            same_64.address_key(),
            "one /64 is one client"
        );
        let same_48 = ClientAddress::from("2001:db8:1:ffff::1");
        assert_ne!(v6.address_key(), same_48.address_key());
        assert_eq!(v6.network_key(24), same_48.network_key(24));
        assert_eq!(
            ClientAddress::from("203.0.113.77:51234"),
            v4,
            "a port says nothing of the client"
        );
        assert_eq!(
            ClientAddress::from("[2001:db8:1:2::9]:443"),
            ClientAddress::from("2001:db8:1:2::9")
        );
        let mapped = ClientAddress::from("::ffff:203.0.113.77");
        assert_eq!(mapped, v4, "an IPv4-mapped address is its IPv4 address");
        let opaque = ClientAddress::from("example");
        assert_eq!(opaque.address_key(), "key:example");
        assert_eq!(opaque.network_key(24), None);
    }

    #[test]
    fn a_device_token_never_shows_in_debug() {
        let client = Client::new("198.51.100.1").with_device("secret-device-token");
        let shown = format!("{client:?}");
        assert!(!shown.contains("secret-device-token"), "{shown}");
        assert_eq!(client.device(), Some("secret-device-token"));
    }
}
