//! Who a request comes from, as far as rate limits can tell: the client's
//! network address (or an opaque key), and the device token it carries.

use std::fmt;
use std::net::IpAddr;

/// The client's network address, so that limits count per address and per
/// network: the address's IPv6 /64 (what one household or server usually
/// holds), or its IPv4 prefix of a configured length. A transport without
/// addresses gives an opaque key instead, counted per key only.
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
    /// The prefix length IPv6 addresses are grouped by: a /64.
    pub const IPV6_PREFIX: u8 = 64;

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

    /// The key the client's own limits count under.
    pub fn address_key(&self) -> String {
        match &self.0 {
            Address::Ip(ip) => format!("ip:{ip}"),
            Address::Key(key) => format!("key:{key}"),
        }
    }

    /// The key its network's limits count under (an IPv6 /64, an IPv4
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
            IpAddr::V6(v6) => {
                let mask = u128::MAX << (128 - u32::from(Self::IPV6_PREFIX));
                let network = std::net::Ipv6Addr::from(u128::from(*v6) & mask);
                format!("net:{network}/{}", Self::IPV6_PREFIX)
            }
        })
    }
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

impl From<&str> for ClientAddress {
    /// An IP address if `raw` is one, else an opaque key.
    fn from(raw: &str) -> Self {
        raw.parse::<IpAddr>()
            .map_or_else(|_| Self::opaque(raw), Self::ip)
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
    fn addresses_group_by_ipv6_64_and_the_configured_ipv4_prefix() {
        let v4 = ClientAddress::from("203.0.113.77");
        assert_eq!(v4.address_key(), "ip:203.0.113.77");
        assert_eq!(v4.network_key(24).as_deref(), Some("net:203.0.113.0/24"));
        assert_eq!(v4.network_key(16).as_deref(), Some("net:203.0.0.0/16"));
        assert_eq!(v4.network_key(32).as_deref(), Some("net:203.0.113.77/32"));
        assert_eq!(v4.network_key(0).as_deref(), Some("net:0.0.0.0/0"));
        assert_eq!(v4.network_key(99).as_deref(), Some("net:203.0.113.77/32"));
        let v6 = ClientAddress::from("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
        assert_eq!(v6.network_key(24).as_deref(), Some("net:2001:db8:1:2::/64"));
        let neighbour = ClientAddress::from("2001:db8:1:2::1");
        assert_eq!(v6.network_key(24), neighbour.network_key(24));
        assert_ne!(v6.address_key(), neighbour.address_key());
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
