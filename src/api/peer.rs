//! Who is at the other end of a connection: the uid of the peer process, looked up once when
//! the connection is accepted (SPEC §10: without a token, only the daemon's user and root are
//! served). A unix socket tells it directly (`SO_PEERCRED`). For loopback TCP the kernel's
//! socket table tells it: the entry of `/proc/net/tcp` (or `tcp6`) whose local address is the
//! peer's address and port and whose remote address is ours is the peer's own socket, and its
//! `uid` column is the user that created it.
//!
//! Why that answer cannot be raced: it is read while our end of the connection is open, so the
//! four-tuple is in use and no other socket can have it; the peer's socket must still belong
//! to a process (an inode other than 0: a socket whose process closed it, an orphan or a
//! TIME-WAIT entry, shows uid 0 and inode 0, and is refused); and anything unexpected (no
//! entry, two entries, a table that cannot be read) means "unknown", which is refused.

use std::net::SocketAddr;

/// How a connection reached the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// TCP, with the address of our end (the one the client connected to).
    Tcp {
        local: SocketAddr,
    },
    Unix,
}

/// A connection's peer: put in the extensions of each of its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub transport: Transport,
    /// The peer process's uid; `None` when it could not be told (or was not looked up: with
    /// tokens configured, the token decides and the lookup is skipped).
    pub uid: Option<u32>,
}

/// The uid that owns the client's socket of a loopback TCP connection from `peer` to `local`.
pub fn tcp_peer_uid(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let table = match peer {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).ok()?;
    find_owner(&text, &proc_address(peer), &proc_address(local))
}

/// An address as `/proc/net/tcp` writes it: the address's bytes as 32-bit words in the
/// machine's byte order, each `%08X`, then `:` and the port `%04X`.
pub fn proc_address(address: SocketAddr) -> String {
    let words: Vec<[u8; 4]> = match address {
        SocketAddr::V4(v4) => vec![v4.ip().octets()],
        SocketAddr::V6(v6) => v6
            .ip()
            .octets()
            .chunks_exact(4)
            .map(|chunk| [chunk[0], chunk[1], chunk[2], chunk[3]])
            .collect(),
    };
    let mut text: String = words
        .into_iter()
        .map(|word| format!("{:08X}", u32::from_ne_bytes(word)))
        .collect();
    text.push_str(&format!(":{:04X}", address.port()));
    text
}

/// The uid of the one live socket whose local address is `local` and remote is `remote` in a
/// `/proc/net/tcp` table; `None` unless exactly one such entry exists and it has an inode.
pub fn find_owner(table: &str, local: &str, remote: &str) -> Option<u32> {
    let mut found = None;
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
        let (Some(entry_local), Some(entry_remote), Some(uid), Some(inode)) =
            (fields.get(1), fields.get(2), fields.get(7), fields.get(9))
        else {
            continue;
        };
        if !entry_local.eq_ignore_ascii_case(local) || !entry_remote.eq_ignore_ascii_case(remote) {
            continue;
        }
        if found.is_some() || *inode == "0" {
            return None;
        }
        found = Some(uid.parse::<u32>().ok()?);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_the_kernel_writes_them() {
        let v4: SocketAddr = "127.0.0.1:7575".parse().unwrap();
        let expected = if cfg!(target_endian = "little") {
            "0100007F:1D97"
        } else {
            "7F000001:1D97"
        };
        assert_eq!(proc_address(v4), expected);
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        let last = if cfg!(target_endian = "little") {
            "01000000"
        } else {
            "00000001"
        };
        assert_eq!(
            proc_address(v6),
            format!("000000000000000000000000{last}:0050")
        );
    }

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1D97 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0 100 0 0 10 0
   1: 0100007F:A000 0100007F:1D97 01 00000000:00000000 00:00000000 00000000 65534        0 2222 1 0 20 4 30 10 -1
   2: 0100007F:1D97 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0 20 4 30 10 -1
   3: 0100007F:B000 0100007F:1D97 06 00000000:00000000 03:00000F9A 00000000     0        0 0 3 0
   4: 0100007F:C000 0100007F:1D97 01 00000000:00000000 00:00000000 00000000  1000        0 4444 1 0 20 4 30 10 -1
   5: 0100007F:C000 0100007F:1D97 01 00000000:00000000 00:00000000 00000000     0        0 5555 1 0 20 4 30 10 -1
";

    #[test]
    fn the_owner_is_the_one_live_entry() {
        let ours = "0100007F:1D97";
        assert_eq!(find_owner(TABLE, "0100007F:A000", ours), Some(65534));
        // TIME-WAIT (or an orphan): no inode, and uid 0 that means nothing: unknown.
        assert_eq!(find_owner(TABLE, "0100007F:B000", ours), None);
        // Two entries for one four-tuple cannot be told apart: unknown.
        assert_eq!(find_owner(TABLE, "0100007F:C000", ours), None);
        assert_eq!(find_owner(TABLE, "0100007F:D000", ours), None);
        assert_eq!(find_owner("", "0100007F:A000", ours), None);
    }

    /// A real connection on this machine: the owner found is this process's uid.
    #[test]
    fn a_real_loopback_connection_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        let uid = tcp_peer_uid(peer, server.local_addr().unwrap());
        assert_eq!(uid, Some(nix::unistd::geteuid().as_raw()));
        drop(client);
    }
}
