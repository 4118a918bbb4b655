// Real peers shared by the foreign-cache tests, from fixtures/autonomi-network-contacts.txt,
// and one Rust `SystemTime` (2024-11-20T12:00:00.250Z) as those caches serialise it.
export const A = "12D3KooWFTMtaqu24ddDSXk9v5YxnuhJmTLFRunER1CG4wZ2XLUU"
export const B = "12D3KooWKgJQedzCxrp33u3dBD1mUZ9HTjEjgrxskEBvzoQWkRT9"
export const A_ADDR = `/ip4/139.59.168.228/udp/56309/quic-v1/p2p/${A}`
export const B_ADDR = "/ip4/46.101.80.187/udp/58070/quic-v1"
export const SECS = 1_732_104_000
export const SYSTEM_TIME = { secs_since_epoch: SECS, nanos_since_epoch: 250_000_000 }
export const MS = SECS * 1000 + 250
