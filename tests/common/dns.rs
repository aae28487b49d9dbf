//! A DNS server on loopback that fails on purpose (SERVFAIL, or silence), on UDP
//! and TCP of the same port, for the failure classes a real server won't produce.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// How the server misbehaves.
#[derive(Clone, Copy)]
pub enum Behaviour {
    /// Answers every query with RCODE 2 (SERVFAIL).
    ServFail,
    /// Never answers.
    Silent,
    /// Answers A queries for this one name with this address (and AAAA with
    /// no data); SERVFAIL for everything else: a resolver that works, and one
    /// domain whose DNS is broken.
    OnlyName(&'static str, [u8; 4]),
    /// Never answers for this one name; SERVFAIL for everything else: a
    /// server that answers, slow on the name a check looks up last.
    SilentFor(&'static str),
}

/// The reply to `query` under `behaviour`, if any.
fn reply(behaviour: Behaviour, query: &[u8]) -> Option<Vec<u8>> {
    match behaviour {
        Behaviour::Silent => None,
        Behaviour::SilentFor(name) => match question(query) {
            Some((q, _)) if q.eq_ignore_ascii_case(name) => None,
            _ => servfail(query),
        },
        Behaviour::ServFail => servfail(query),
        Behaviour::OnlyName(name, ip) => match question(query) {
            Some((q, 1)) if q.eq_ignore_ascii_case(name) => answer_a(query, ip),
            Some((q, _)) if q.eq_ignore_ascii_case(name) => no_data(query),
            _ => servfail(query),
        },
    }
}

/// The question's name (without the final dot) and type.
fn question(q: &[u8]) -> Option<(String, u16)> {
    let (labels, i) = labels(q)?;
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    Some((labels.join("."), qtype))
}

/// The question name's labels, and where the name ends.
fn labels(q: &[u8]) -> Option<(Vec<String>, usize)> {
    let mut labels = Vec::new();
    let mut i = 12;
    loop {
        let len = usize::from(*q.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).into_owned());
        i += len;
    }
    Some((labels, i))
}

/// A NOERROR response with no answer (the name exists, not this type).
fn no_data(query: &[u8]) -> Option<Vec<u8>> {
    let mut r = servfail(query)?;
    r[3] = 0x80;
    Some(r)
}

/// A NOERROR response with one A record for the question's name.
fn answer_a(query: &[u8], ip: [u8; 4]) -> Option<Vec<u8>> {
    let mut r = no_data(query)?;
    r[7] = 1; // ANCOUNT
    r.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    r.extend_from_slice(&ip);
    Some(r)
}

/// Starts the server on 127.0.0.1 and returns its port.
pub async fn start(behaviour: Behaviour) -> u16 {
    let (udp, tcp) = bind_pair().await;
    let port = udp.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            if let Some(reply) = reply(behaviour, &buf[..n]) {
                let _ = udp.send_to(&reply, from).await;
            }
        }
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if s.read_exact(&mut q).await.is_err() {
                    return;
                }
                match reply(behaviour, &q) {
                    Some(reply) => {
                        let _ = s.write_all(&(reply.len() as u16).to_be_bytes()).await;
                        let _ = s.write_all(&reply).await;
                    }
                    None => tokio::time::sleep(Duration::from_mins(1)).await,
                }
            });
        }
    });
    port
}

async fn bind_pair() -> (UdpSocket, TcpListener) {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
            return (udp, tcp);
        }
    }
}

/// The query turned into a SERVFAIL response: same ID and question, QR set, RCODE 2.
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let mut r = query.to_vec();
    r[2] = 0x80 | (query[2] & 0x79); // QR, keep opcode and RD
    r[3] = 0x80 | 0x02; // RA, RCODE=SERVFAIL
    // No answers, authority or additional records (drop any EDNS OPT record).
    r[6..12].fill(0);
    let question_end = question_end(query)?;
    r.truncate(question_end);
    Some(r)
}

fn question_end(q: &[u8]) -> Option<usize> {
    let end = labels(q)?.1 + 4;
    (end <= q.len()).then_some(end)
}
