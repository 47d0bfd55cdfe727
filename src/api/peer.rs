//! Who is at the other end of a connection: the uid of the peer process, looked up once when
//! the connection is accepted (SPEC §10: without a token, only the daemon's user and root are
//! served). A unix socket tells it directly (`SO_PEERCRED`). For loopback TCP the kernel's
//! socket table tells it: the socket whose local address is the peer's address and port and
//! whose remote address is ours is the peer's own socket, and its uid is the user that created
//! it. The daemon asks the kernel for that one socket by its four-tuple (`sock_diag` over
//! netlink: an exact lookup, a few microseconds whatever the number of sockets), and reads
//! `/proc/net/tcp` (or `tcp6`) only where netlink is refused (a seccomp profile): that file
//! lists every socket of the host's network namespace, and with thousands of them (TIME-WAIT
//! entries of busy clients) one read took 20–40 ms here.
//!
//! Why that answer cannot be raced: it is read while our end of the connection is open, so the
//! four-tuple is in use and no other socket can have it; the peer's socket must still belong
//! to a process (an inode other than 0: a socket whose process closed it, an orphan or a
//! TIME-WAIT entry, shows uid 0 and inode 0, and is refused); and anything unexpected (no
//! entry, two entries, an answer that cannot be read) means "unknown", which is refused.

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
    match diag_owner(peer, local) {
        Ok(owner) => owner,
        // Netlink refused (not a lookup that found nothing): the slow way.
        Err(_) => proc_owner(peer, local),
    }
}

/// The owner from `/proc/net/tcp` or `tcp6`.
fn proc_owner(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let table = match peer {
        SocketAddr::V4(_) => "/proc/net/tcp",
        SocketAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).ok()?;
    find_owner(&text, &proc_address(peer), &proc_address(local))
}

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `INET_DIAG_NOCOOKIE`: the lookup is by address, not by cookie.
const NO_COOKIE: u32 = u32::MAX;

/// A socket's address as `inet_diag_sockid` holds it: four 32-bit words in network order.
fn diag_words(address: SocketAddr) -> [u8; 16] {
    let mut words = [0u8; 16];
    match address {
        SocketAddr::V4(v4) => words[..4].copy_from_slice(&v4.ip().octets()),
        SocketAddr::V6(v6) => words.copy_from_slice(&v6.ip().octets()),
    }
    words
}

/// The request for the one TCP socket whose local address is `source` and remote `destination`:
/// `nlmsghdr` + `inet_diag_req_v2` (linux/inet_diag.h), without `NLM_F_DUMP`, so the kernel
/// looks it up by its four-tuple.
fn diag_request(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let family = match source {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    let mut request = Vec::with_capacity(72);
    // nlmsghdr: length, type, flags, sequence, port id.
    request.extend_from_slice(&72u32.to_ne_bytes());
    request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes());
    request.extend_from_slice(&0u32.to_ne_bytes());
    // inet_diag_req_v2: family, protocol, extensions, padding, states (all).
    request.push(family as u8);
    request.push(libc::IPPROTO_TCP as u8);
    request.push(0);
    request.push(0);
    request.extend_from_slice(&u32::MAX.to_ne_bytes());
    // inet_diag_sockid: ports and addresses in network order, interface, cookie.
    request.extend_from_slice(&source.port().to_be_bytes());
    request.extend_from_slice(&destination.port().to_be_bytes());
    request.extend_from_slice(&diag_words(source));
    request.extend_from_slice(&diag_words(destination));
    request.extend_from_slice(&0u32.to_ne_bytes());
    request.extend_from_slice(&NO_COOKIE.to_ne_bytes());
    request.extend_from_slice(&NO_COOKIE.to_ne_bytes());
    request
}

/// Reads the kernel's answer to [`diag_request`]: `Ok(Some(uid))` for a socket that belongs
/// to a process, `Ok(None)` for none or one without (`ENOENT`, inode 0), `Err` for an answer
/// that is not one.
fn diag_answer(answer: &[u8]) -> Result<Option<u32>, ()> {
    let word = |offset: usize| -> Result<u32, ()> {
        let bytes = answer.get(offset..offset + 4).ok_or(())?;
        Ok(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    let length = word(0)? as usize;
    let kind = answer
        .get(4..6)
        .map(|bytes| u16::from_ne_bytes([bytes[0], bytes[1]]))
        .ok_or(())?;
    if length > answer.len() {
        return Err(());
    }
    if kind == libc::NLMSG_ERROR as u16 {
        // nlmsgerr: a negative errno; ENOENT is "no such socket".
        let errno = word(16)? as i32;
        return if errno == -libc::ENOENT {
            Ok(None)
        } else {
            Err(())
        };
    }
    if kind != SOCK_DIAG_BY_FAMILY || length < 16 + 72 {
        return Err(());
    }
    // inet_diag_msg after the header: 4 bytes, the 48-byte sockid, expires, rqueue, wqueue,
    // then uid and inode.
    let uid = word(16 + 64)?;
    let inode = word(16 + 68)?;
    Ok((inode != 0).then_some(uid))
}

/// The owner by `sock_diag`: `Err` when netlink cannot be used here.
fn diag_owner(peer: SocketAddr, local: SocketAddr) -> Result<Option<u32>, ()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: plain socket creation; the descriptor is owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(());
    }
    // SAFETY: `raw` is a new descriptor nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    let request = diag_request(peer, local);
    // SAFETY: the kernel's netlink address (all zeros but the family) and a buffer that lives
    // across the call.
    let sent = unsafe {
        let mut kernel: libc::sockaddr_nl = std::mem::zeroed();
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        libc::sendto(
            socket.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            (&raw const kernel).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent != request.len() as isize {
        return Err(());
    }
    let mut answer = [0u8; 512];
    // A bounded wait: the kernel answers at once; a lost answer must not hang the API.
    let timeout = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    // SAFETY: a plain struct of the size given, for the socket we own.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    // SAFETY: receives into a buffer of the length given.
    let received = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            answer.as_mut_ptr().cast(),
            answer.len(),
            0,
        )
    };
    let received = usize::try_from(received).map_err(|_| ())?;
    diag_answer(&answer[..received])
}

/// An address as `/proc/net/tcp` writes it: the address's bytes as 32-bit words in the
/// machine's byte order, each `%08X`, then `:` and the port `%04X`.
fn proc_address(address: SocketAddr) -> String {
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
fn find_owner(table: &str, local: &str, remote: &str) -> Option<u32> {
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

    /// A real connection on this machine: both ways find this process's uid, and a
    /// four-tuple nobody holds finds nothing.
    #[test]
    fn a_real_loopback_connection_is_found() {
        for address in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(listener) = std::net::TcpListener::bind(address) else {
                continue; // no IPv6 loopback here
            };
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, peer) = listener.accept().unwrap();
            let local = server.local_addr().unwrap();
            let me = Some(nix::unistd::geteuid().as_raw());
            assert_eq!(diag_owner(peer, local), Ok(me), "{address}");
            assert_eq!(proc_owner(peer, local), me, "{address}");
            assert_eq!(tcp_peer_uid(peer, local), me, "{address}");
            let mut nobody = peer;
            nobody.set_port(if peer.port() == 1 { 2 } else { 1 });
            assert_eq!(diag_owner(nobody, local), Ok(None), "{address}");
            drop(client);
        }
    }

    #[test]
    fn diag_answers_are_read_strictly() {
        assert_eq!(diag_answer(&[]), Err(()));
        // An NLMSG_ERROR with -ENOENT: no such socket.
        let mut error = vec![0u8; 36];
        error[..4].copy_from_slice(&36u32.to_ne_bytes());
        error[4..6].copy_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
        error[16..20].copy_from_slice(&(-libc::ENOENT).to_ne_bytes());
        assert_eq!(diag_answer(&error), Ok(None));
        error[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert_eq!(diag_answer(&error), Err(()));
        // A socket with uid 1000 and an inode; the same without inode (TIME-WAIT).
        let mut found = vec![0u8; 88];
        found[..4].copy_from_slice(&88u32.to_ne_bytes());
        found[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        found[80..84].copy_from_slice(&1000u32.to_ne_bytes());
        found[84..88].copy_from_slice(&4242u32.to_ne_bytes());
        assert_eq!(diag_answer(&found), Ok(Some(1000)));
        found[84..88].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(diag_answer(&found), Ok(None));
        assert_eq!(diag_answer(&found[..60]), Err(()));
    }
}
